/*
 * fuzz_proc_net.c - the agent's parser of /proc/net/{tcp,tcp6,udp,udp6}.
 * The first byte picks the table; the rest is its text.
 */
#include <arpa/inet.h>
#include <string.h>

#include "collect_ports.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct port_sock *socks = NULL;
	size_t n = 0;
	int ipv6, r;
	FILE *f;

	if (size < 2)
		return 0;
	ipv6 = data[0] & 1;
	f = fmemopen((void *)(data + 1), size - 1, "r");
	if (!f)
		abort();
	r = collect_ports_parse_net(f, data[0] & 2 ? "udp" : "tcp", ipv6,
				    &socks, &n);
	fclose(f);
	if (r == 0) {
		for (size_t i = 0; i < n; i++) {
			unsigned char a[16];

			/* Every address is one inet_pton reads back. */
			if (memchr(socks[i].address, '\0',
				   sizeof(socks[i].address)) == NULL ||
			    inet_pton(ipv6 ? AF_INET6 : AF_INET,
				      socks[i].address, a) != 1)
				abort();
		}
	}
	free(socks);
	return 0;
}
