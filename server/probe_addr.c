/* probe_addr.c - see probe_addr.h: the probe's addresses, IPv4 mapped
 * into IPv6. */
#include "probe_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

int probe_addr_parse(const char *s, struct probe_addr *ret)
{
	struct probe_addr a = { 0 };

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a.b[12]) == 1)
		memcpy(a.b, mapped_prefix, sizeof(mapped_prefix));
	else if (inet_pton(AF_INET6, s, a.b) != 1)
		return -EINVAL;
	*ret = a;
	return 0;
}

bool probe_addr_is_ipv4(const struct probe_addr *a)
{
	return memcmp(a->b, mapped_prefix, sizeof(mapped_prefix)) == 0;
}

void probe_addr_format(const struct probe_addr *a,
		       char ret[PROBE_ADDR_TEXT_MAX])
{
	/* Cannot fail: the buffer holds the longest form. */
	if (probe_addr_is_ipv4(a))
		inet_ntop(AF_INET, &a->b[12], ret, PROBE_ADDR_TEXT_MAX);
	else
		inet_ntop(AF_INET6, a->b, ret, PROBE_ADDR_TEXT_MAX);
}

bool probe_addr_is_link_local(const struct probe_addr *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

bool probe_addr_usable(const struct probe_addr *a)
{
	static const struct probe_addr zero, loopback = { .b[15] = 1 };

	if (probe_addr_is_ipv4(a))
		return a->b[12] != 127 && a->b[12] != 0;
	return probe_addr_cmp(a, &zero) != 0 &&
	       probe_addr_cmp(a, &loopback) != 0 &&
	       !probe_addr_is_link_local(a);
}

int probe_addr_cmp(const struct probe_addr *a, const struct probe_addr *b)
{
	return memcmp(a->b, b->b, sizeof(a->b));
}

socklen_t probe_addr_sockaddr(const struct probe_addr *a, int port,
			      struct sockaddr_storage *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (probe_addr_is_ipv4(a)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, &a->b[12], 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a->b, 16);
		return sizeof(*sin6);
	}
}
