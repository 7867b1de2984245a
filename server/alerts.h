/*
 * alerts.h - pushes findings to Alertmanager ([notify] alertmanager_url)
 * as alerts, from a thread of its own: the open ones every period with an
 * endsAt a few periods ahead (renewed while they stay open, so a silent
 * derelictd lets them lapse), the ones that closed lately with their end.
 * A failing Alertmanager is logged and counted, and the next push tries
 * again; nothing else waits for it.
 */
#ifndef DERELICT_ALERTS_H
#define DERELICT_ALERTS_H

struct alerts;
struct server_config;
struct store;

/* Starts the pusher; *ret is NULL (and 0 is answered) when no
 * alertmanager_url is set. */
int alerts_start(const struct server_config *cfg, struct store *st,
		 struct alerts **ret);
/* Stops it (a push in flight is cut short) and frees it; NULL is fine. */
void alerts_stop(struct alerts *a);

#endif
