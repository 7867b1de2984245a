# packaging.mk - "make deb": Debian packages derelict-server and
# derelict-agent, built in a copy of the source tree so that nothing is
# written outside $(B)/.  Included by the top-level Makefile.
#
#   make deb                       build/deb/derelict-{server,agent}_*.deb
#   make deb DEB_BUILD_OPTIONS=nocheck   without running the unit tests
#   make deb DEB_KEEP=1            keep the build tree build/deb/derelict-*/
#   make deb-lint                  lintian on the built packages
#
# Like "make check" and "make run", both first install (as root, through
# "make deps") what they need and is missing: DEB_DEPS, the tools below and
# any Build-Depends of packaging/debian/control still missing.

DEB_VERSION := $(shell sed -n 's/^\#define DERELICT_VERSION "\(.*\)"/\1/p' common/version.h)
DEB_CHANGELOG_VERSION = $(shell dpkg-parsechangelog -l packaging/debian/changelog -S Version 2>/dev/null)
DEB_OUT := $(B)/deb
DEB_TREE := $(DEB_OUT)/derelict-$(DEB_VERSION)

# The tools of the package build; lintian for deb-lint only.
DEB_PACKAGING_DEPS := dpkg-dev debhelper fakeroot
DEB_BUILD_PROFILE_ARGS := $(if $(filter nocheck,$(DEB_BUILD_PROFILES) $(DEB_BUILD_OPTIONS)),-P nocheck)

.PHONY: deb deb-deps deb-lint deb-clean
deb-deps:
	@$(MAKE) --no-print-directory deps \
		DEB_DEPS="$(DEB_DEPS) $(DEB_PACKAGING_DEPS)"
	@dpkg-checkbuilddeps $(DEB_BUILD_PROFILE_ARGS) packaging/debian/control 2>/dev/null || { \
		echo "installing the Build-Depends of packaging/debian/control"; \
		if [ "$$(id -u)" != 0 ]; then echo "make deb: run as root to install them (apt-get build-dep ./packaging)" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q $(DEB_BUILD_PROFILE_ARGS) ./packaging || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q $(DEB_BUILD_PROFILE_ARGS) ./packaging; }; }

deb: deb-deps
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb: needs dpkg-dev and debhelper (apt-get install dpkg-dev debhelper)" >&2; exit 1; }
	@if [ "$(DEB_CHANGELOG_VERSION)" != "$(DEB_VERSION)" ]; then \
		echo "make deb: common/version.h says $(DEB_VERSION) but packaging/debian/changelog says $(DEB_CHANGELOG_VERSION); add a changelog entry (dch -c packaging/debian/changelog -v $(DEB_VERSION))" >&2; \
		exit 1; fi
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_TREE)
	tar -c --exclude=./$(B) --exclude=./build --exclude=./.git --exclude=./var \
		--exclude=./debian-build --exclude=./tests/e2e/node_modules -f - . | \
		tar -x -C $(DEB_TREE) -f -
	cp -a packaging/debian $(DEB_TREE)/debian
	cd $(DEB_TREE) && dpkg-buildpackage -us -uc -b || \
		{ [ -n "$(DEB_KEEP)" ] || rm -rf $(DEB_TREE); exit 1; }
	@# The staged tree has directories named *.d (sysusers.d), which the
	@# top-level Makefile's "-include" of dependency files would trip on.
	[ -n "$(DEB_KEEP)" ] || rm -rf $(DEB_TREE)
	@# Debug symbols aside, so that $(DEB_OUT)/*.deb are the packages to install.
	mkdir -p $(DEB_OUT)/dbgsym
	mv $(DEB_OUT)/*-dbgsym_*.*deb $(DEB_OUT)/dbgsym/ 2>/dev/null || true
	@ls -1 $(DEB_OUT)/*.deb

deb-lint:
	@$(MAKE) --no-print-directory deps DEB_DEPS=lintian
	lintian --fail-on error $(DEB_OUT)/*.deb

deb-clean:
	rm -rf $(DEB_OUT)

# "make rpm": the agent's RPM (packaging/rpm/derelict-agent.spec) from a
# tarball of the tree, in $(B)/rpm/; RPM_FLAGS="--nodeps" where the
# BuildRequires are not RPM packages (Debian: tests/packaging/run.sh).
RPM_OUT := $(B)/rpm
.PHONY: rpm
rpm:
	@command -v rpmbuild >/dev/null || { echo "make rpm: needs rpmbuild (dnf install rpm-build, or apt-get install rpm)" >&2; exit 1; }
	rm -rf $(RPM_OUT)
	mkdir -p $(RPM_OUT)/SOURCES
	tar -c --exclude=./$(B) --exclude=./build --exclude=./build-* --exclude=./.git \
		--exclude=./tests/e2e/node_modules \
		--transform 's,^\.,derelict-$(DEB_VERSION),' -zf $(RPM_OUT)/SOURCES/derelict-$(DEB_VERSION).tar.gz .
	rpmbuild -bb $(RPM_FLAGS) --define "_topdir $(abspath $(RPM_OUT))" \
		--define "derelict_version $(DEB_VERSION)" packaging/rpm/derelict-agent.spec
	@ls -1 $(RPM_OUT)/RPMS/*/*.rpm
