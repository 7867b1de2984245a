/*
 * fuzz_conf.c - derelictd.conf through conf_load_file() with the server's
 * own key table, as derelictd --check-config reads it.
 */
#include <string.h>

#include "conf.h"
#include "fuzz_util.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_config cfg = { 0 };
	char err[CONF_ERR_LEN];
	int r;

	if (conf_defaults(server_conf_keys, &cfg) < 0)
		abort();
	err[0] = '\0';
	r = conf_load_file(server_conf_keys, &cfg, fuzz_write_file(data, size),
			   err);
	if (r < 0 && (!memchr(err, '\0', sizeof(err)) || !err[0]))
		abort();	/* a refusal always says why */
	if (r == 0 && (cfg.smtp_ports.n < 0 ||
		       cfg.smtp_ports.n > CONF_MAX_PORTS || !cfg.listen ||
		       cfg.max_body_bytes < 1024))
		abort();
	conf_free(server_conf_keys, &cfg);
	return 0;
}
