"""GET /hosts/{id}/changes answers in the shape its OpenAPI schema promises:
the real agent reports two roots composed from real captured pieces (an
Exim on all addresses, then an MTA on loopback with another version) as one
host, and every row of the
history (added, removed and changed) is checked against the Change schema
the server itself serves."""
import scenario

JSON_TYPES = {"object": dict, "array": list, "string": str,
              "integer": int, "boolean": bool, "null": type(None)}


def deref(spec, node):
    ref = node.get("$ref")
    if not ref:
        return node
    assert ref.startswith("#/"), ref
    for part in ref[2:].split("/"):
        spec = spec[part]
    return spec


def type_ok(value, types):
    types = types if isinstance(types, list) else [types]
    for t in types:
        if t == "integer" and isinstance(value, bool):
            continue
        if isinstance(value, JSON_TYPES[t]):
            return True
    return False


def check(spec, schema, value, where):
    schema = deref(spec, schema)
    if "type" in schema:
        assert type_ok(value, schema["type"]), (where, value, schema["type"])
    if "enum" in schema:
        assert value in schema["enum"], (where, value)
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        # Every field the answer has is one the schema names, and every
        # field the schema names is there.
        assert set(value) == set(props), (where, sorted(value), sorted(props))
        for k, v in value.items():
            check(spec, props[k], v, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(spec, schema["items"], v, f"{where}[{i}]")


def test_changes_match_the_openapi_schema(server):
    state = server.tmp / "state"
    # Every collector reads both roots, so nothing is kept as last read
    # (a failed section records no changes).
    for mta, version in (("exim", "4.92-8+deb10u1"),
                         ("loopback", "4.92-8+deb10u6")):
        root = scenario.compose(server.tmp, "schema-01", mta=mta,
                                version=version)
        r = server.agent("--once", root=str(root), state=state)
        assert r.returncode == 0, r.stderr
    status, hosts, _ = server.api("GET", "/hosts")
    assert status == 200 and len(hosts["items"]) == 1
    hid = hosts["items"][0]["id"]
    status, spec, _ = server.api("GET", "/openapi.json")
    assert status == 200
    answer = (spec["paths"]["/hosts/{id}/changes"]["get"]["responses"]["200"]
              ["content"]["application/json"]["schema"])
    status, ch, _ = server.api("GET", f"/hosts/{hid}/changes?limit=1000")
    assert status == 200
    assert set(answer["required"]) <= set(ch)
    actions = {c["action"] for c in ch["items"]}
    # Rows with one side empty are what named their fields old_json and
    # new_json.
    assert {"added", "removed"} <= actions, actions
    check(spec, answer, ch, "changes")
    for c in ch["items"]:
        if c["action"] == "added":
            assert c["old"] is None and isinstance(c["new"], dict), c
        elif c["action"] == "removed":
            assert c["new"] is None and isinstance(c["old"], dict), c
