/*
 * http.h - derelictd's HTTP side: libmicrohttpd, the connection limits and
 * the slow-client reaper, the route table and authentication.  Handlers
 * (api_*.c) see a struct request (request.h) copied out of libmicrohttpd
 * and fill a struct reply (reply.h); they never touch libmicrohttpd.
 */
#ifndef DERELICT_HTTP_H
#define DERELICT_HTTP_H

#include "server.h"

struct http_server;

int http_start(struct app *app, struct http_server **ret, char err[256]);
/* Stops accepting, lets running handlers finish, closes. */
void http_stop(struct http_server *h);

#endif
