# derelict - GNU make, no autotools.  See README.md, "Development".

PREFIX ?= /usr
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/derelict
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc

CC ?= cc
PYTHON ?= /usr/bin/python3
B ?= build

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# Each binary links only what it uses; the agent loads libcurl when it sends
# (agent/client.c) and SQLite when a wtmpdb exists (collect_logins.c), so
# only their headers are needed for it.  The unit tests and fuzz harnesses
# link both sides and take everything.
AGENT_PKGS := jansson uuid inih libsystemd zlib nettle
SERVER_PKGS := libmicrohttpd sqlite3 libpq jansson uuid inih libsystemd gnutls \
	zlib nettle libcurl
PKGS := $(sort $(AGENT_PKGS) $(SERVER_PKGS) libcurl)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP \
	-Icommon -Iagent -Iserver -I$(B)/gen $(PKG_CFLAGS) \
	-DDATADIR='"$(DATADIR)"' -DSYSCONFDIR='"$(SYSCONFDIR)"'
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm -ldl
AGENT_LIBS = -Wl,--as-needed \
	$(shell pkg-config --libs $(AGENT_PKGS) 2>/dev/null) -ldl -lm
SERVER_LIBS = -Wl,--as-needed \
	$(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null) -lpthread -lm

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC := $(filter-out agent/main.c,$(wildcard agent/*.c))
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
SQL_FILES := $(sort $(wildcard sql/*.sql))
SQL_PG_FILES := $(sort $(wildcard sql/pg/*.sql))
WEB_FILES := $(sort $(wildcard server/web/*))
# The shipped data, compiled in as derelictd's default (server/main.c).
DATA_FILES := data/advisories.json data/eol.json
UNIT_SRC := $(wildcard tests/unit/check_*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(B)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/%.o) $(B)/gen/embedded_sql.o \
	$(B)/gen/embedded_sql_pg.o $(B)/gen/embedded_web.o $(B)/gen/embedded_data.o
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

AGENT := $(B)/derelict-agent
SERVER := $(B)/derelictd

# Debian packages the build and the tests need; "make deps" installs the
# missing ones and is silent when nothing is missing.
DEB_DEPS := build-essential pkg-config libmicrohttpd-dev libsqlite3-dev \
	sqlite3 libjansson-dev uuid-dev libcurl4-gnutls-dev libinih-dev \
	libsystemd-dev libgnutls28-dev nettle-dev zlib1g-dev libpq-dev \
	postgresql check python3 \
	python3-pytest python3-psycopg2 curl iproute2 dbus python3-dbusmock exim4-daemon-light \
	python3-aiosmtpd openssl debootstrap systemd-container prometheus \
	prometheus-alertmanager systemd-journal-remote rpm db5.3-util gpg nftables

.PHONY: all deps check check-pg unit integration run install clean format \
	check-style bench fuzz
all: $(SERVER) $(AGENT)

deps:
	@missing=$$(for p in $(DEB_DEPS); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | \
		grep -q '^ii' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install:" $$missing >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }; \
	fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/gen/embedded_sql.c: $(SQL_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh embedded_sql $@ $(SQL_FILES)

$(B)/gen/embedded_sql_pg.c: $(SQL_PG_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh embedded_sql_pg $@ $(SQL_PG_FILES)

$(B)/gen/embedded_web.c: $(WEB_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh embedded_web $@ $(WEB_FILES)

$(B)/gen/embedded_data.c: $(DATA_FILES) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh embedded_data $@ $(DATA_FILES)

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
$(B)/libagent.a: $(AGENT_OBJ)
	rm -f $@ && $(AR) rcs $@ $^
$(B)/libserver.a: $(SERVER_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(AGENT): $(B)/agent/main.o $(B)/libagent.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(SERVER): $(B)/server/main.o $(B)/libserver.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVER_LIBS)

# Every suite links the helpers they share (tests/unit/testutil.h).
$(B)/tests/%: $(B)/tests/unit/%.o $(B)/tests/unit/testutil.o $(B)/libserver.a \
		$(B)/libagent.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(CHECK_LIBS)

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit integration

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
		CK_DEFAULT_TIMEOUT=60 FIXTURES=tests/fixtures $$t || fail=1; \
	done; exit $$fail

integration: all
	DERELICTD=$(abspath $(SERVER)) DERELICT_AGENT=$(abspath $(AGENT)) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The integration suite on PostgreSQL: one cluster of the tests' own
# (tests/integration/pg.py), a fresh database per server.
check-pg: deps
	@$(MAKE) --no-print-directory all
	DERELICT_TEST_ENGINE=postgresql DERELICTD=$(abspath $(SERVER)) \
		DERELICT_AGENT=$(abspath $(AGENT)) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/run.sh $(SERVER) $(AGENT)

bench: deps
	@$(MAKE) --no-print-directory all $(B)/bench/advisory_bench
	@sh tests/bench/run.sh $(B)

$(B)/bench/advisory_bench: $(B)/tests/bench/advisory_bench.o $(B)/libserver.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)
	install -m 0755 $(SERVER) $(AGENT) $(DESTDIR)$(SBINDIR)/
	for f in data/*; do [ -f "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(DATADIR)/; done; true

clean:
	rm -rf $(B)

SOURCES = $(wildcard common/*.[ch] agent/*.[ch] server/*.[ch] tests/unit/*.[ch])
format:
	clang-format -i $(SOURCES)

# Every object of the two programs: no two of them call each other,
# directly or round a loop (tools/cycles.py reads their symbols).
CYCLE_OBJ := $(COMMON_OBJ) $(AGENT_OBJ) $(B)/agent/main.o \
	$(filter $(B)/server/%,$(SERVER_OBJ)) $(B)/server/main.o

# The calls that have overflowed buffers in C for decades stay out.  Every
# statement of the store prepares on SQLite and on a scratch PostgreSQL 15
# (tools/sql-check.py, ~7 s; needs the postgresql package).
check-style: $(CYCLE_OBJ)
	@! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)[[:space:]]*\(' $(SOURCES) \
		|| { echo "check-style: banned call above" >&2; exit 1; }
	@! grep -nE 'sqlite3|SQLITE_' $(filter-out server/db_sqlite.c,$(wildcard server/*.c server/*.h)) \
		| grep -v 'ENGINE:' \
		|| { echo "check-style: only server/db_sqlite.c may speak SQLite (db.h wraps it)" >&2; exit 1; }
	@! grep -nE 'libpq|PQ[a-z]+[A-Z]|PGconn|PGresult' $(filter-out server/db_pg.c,$(wildcard server/*.c server/*.h)) \
		| grep -v 'ENGINE:' \
		|| { echo "check-style: only server/db_pg.c may speak libpq (db.h wraps it)" >&2; exit 1; }
	@B=$(B) $(PYTHON) tools/cycles.py $(CYCLE_OBJ)
	@CC="$(CC)" $(PYTHON) tools/sql-check.py

-include packaging/packaging.mk
-include tests/fuzz/fuzz.mk
-include $(shell find $(B) -type f -name '*.d' 2>/dev/null)
