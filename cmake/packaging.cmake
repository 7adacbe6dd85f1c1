# What `cmake --install` puts where, and the Debian package CPack makes of it
# (`cpack -G DEB` in the build directory; scripts/package-check.sh tests it).
#
# Installed: tund, intermediary and dialoutctl (sbin), the systemd units with ExecStart
# pointing at that sbin directory, the man pages (when go-md2man is there),
# and docs/examples plus the configuration reference under share/doc/dialout.
include(GNUInstallDirs)

install(TARGETS tund intermediary dialoutctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# Relative to the prefix, so /usr/local (cmake --install) and /usr (the
# package) both land on a directory systemd searches.
set(DIALOUT_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where to install the systemd units, relative to the install prefix")
# The prefix is only known at install time (cpack installs into /usr, not the
# configured prefix), so the units' paths are rewritten then.
install(CODE "
  set(DIALOUT_UNIT_SOURCES \"${PROJECT_SOURCE_DIR}/systemd/intermediary.service;${PROJECT_SOURCE_DIR}/systemd/tund@.service\")
  set(DIALOUT_UNIT_WORK_DIR \"${CMAKE_BINARY_DIR}/systemd\")
  set(DIALOUT_UNIT_DIR \"${DIALOUT_SYSTEMD_UNIT_DIR}\")
  set(DIALOUT_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(DIALOUT_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
")
install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/install-units.cmake)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/docs/configuration.md ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages: docs/man/PAGE.md arranges sections of docs/configuration.md
# (render.py), go-md2man turns that into roff. Rendered at install time like
# the units, since they name the installed documentation directory. Without
# go-md2man or python3 nothing else changes and configure says so.
find_program(GO_MD2MAN go-md2man)
find_package(Python3 COMPONENTS Interpreter)
if(GO_MD2MAN AND Python3_Interpreter_FOUND)
  install(CODE "
    set(DIALOUT_MAN_PAGES \"tund.8;intermediary.8;dialoutctl.8;dialout-policy.5\")
    set(DIALOUT_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
    set(DIALOUT_WORK_DIR \"${CMAKE_BINARY_DIR}/man\")
    set(DIALOUT_VERSION \"${PROJECT_VERSION}\")
    set(DIALOUT_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
    set(DIALOUT_PYTHON \"${Python3_EXECUTABLE}\")
    set(DIALOUT_GO_MD2MAN \"${GO_MD2MAN}\")
  ")
  install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/install-man-pages.cmake)
else()
  message(STATUS "go-md2man or python3 not found: no man pages (scripts/install-deps.sh installs them)")
endif()

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dialout)
set(CPACK_PACKAGE_VENDOR "dialout")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "site-to-site VPN for networks behind outbound-only firewalls")
# CPack makes the Debian Description of the summary (first line) and this.
set(CPACK_PACKAGE_DESCRIPTION "dialout joins networks that accept no inbound connections: each site daemon
(tund) dials out over TLS 1.3 with mutual X.509 authentication to a public
relay (intermediary), which checks a policy of who may register what and
reach whom and forwards IP datagrams between the sites. Userspace only, over
a TUN device; systemd units for both daemons are included.")
set(DIALOUT_DEB_MAINTAINER "dialout maintainers <maintainers@users.noreply.b-seed-ecb711db.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${DIALOUT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies (libssl3, libfmt9, libboost-program-options, libmnl0,
# libstdc++, libc) from the binaries themselves.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# masquerade = on runs nft; everything else works without it.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nftables")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_CURRENT_LIST_DIR}/deb/postinst;${CMAKE_CURRENT_LIST_DIR}/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The build is RelWithDebInfo; the package carries no debug info.
set(CPACK_STRIP_FILES ON)
include(CPack)
