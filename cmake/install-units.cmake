# Installs the systemd units with the paths of this installation: the binaries
# in <prefix>/<sbindir> (the sources say /usr/local/sbin) and the examples
# their comments point to in <prefix>/<docdir>. Run by `cmake --install` and
# cpack, where CMAKE_INSTALL_PREFIX is the prefix being installed to;
# packaging.cmake sets the DIALOUT_* variables just before.
foreach(var DIALOUT_UNIT_SOURCES DIALOUT_UNIT_WORK_DIR DIALOUT_UNIT_DIR DIALOUT_SBINDIR DIALOUT_DOCDIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install-units.cmake: ${var} not set")
  endif()
endforeach()
foreach(src IN LISTS DIALOUT_UNIT_SOURCES)
  get_filename_component(name "${src}" NAME)
  file(READ "${src}" text)
  string(REPLACE "/usr/local/sbin/" "${CMAKE_INSTALL_PREFIX}/${DIALOUT_SBINDIR}/" text "${text}")
  string(REPLACE "docs/examples/" "${CMAKE_INSTALL_PREFIX}/${DIALOUT_DOCDIR}/examples/" text "${text}")
  file(WRITE "${DIALOUT_UNIT_WORK_DIR}/${name}" "${text}")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${DIALOUT_UNIT_DIR}" TYPE FILE
       FILES "${DIALOUT_UNIT_WORK_DIR}/${name}")
endforeach()
