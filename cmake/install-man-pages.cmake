# Renders and installs the man pages (docs/man/PAGE.md + docs/configuration.md
# -> render.py -> go-md2man) with the documentation directory of this
# installation, which is only known at install time (cpack installs into
# /usr). packaging.cmake sets the DIALOUT_* variables just before.
foreach(var DIALOUT_MAN_PAGES DIALOUT_SOURCE_DIR DIALOUT_WORK_DIR DIALOUT_VERSION DIALOUT_MANDIR DIALOUT_DOCDIR
        DIALOUT_PYTHON DIALOUT_GO_MD2MAN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install-man-pages.cmake: ${var} not set")
  endif()
endforeach()
file(MAKE_DIRECTORY "${DIALOUT_WORK_DIR}")
foreach(page IN LISTS DIALOUT_MAN_PAGES)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section "${page}")
  execute_process(
    COMMAND "${DIALOUT_PYTHON}" "${DIALOUT_SOURCE_DIR}/docs/man/render.py" "${DIALOUT_SOURCE_DIR}/docs/man/${page}.md"
            "${DIALOUT_SOURCE_DIR}/docs" "${DIALOUT_VERSION}" "${CMAKE_INSTALL_PREFIX}/${DIALOUT_DOCDIR}"
    OUTPUT_FILE "${DIALOUT_WORK_DIR}/${page}.md"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "render.py ${page}.md failed (${rc})")
  endif()
  execute_process(
    COMMAND "${DIALOUT_GO_MD2MAN}" -in "${DIALOUT_WORK_DIR}/${page}.md" -out "${DIALOUT_WORK_DIR}/${page}"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "go-md2man ${page} failed (${rc})")
  endif()
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${DIALOUT_MANDIR}/man${section}" TYPE FILE
       FILES "${DIALOUT_WORK_DIR}/${page}")
endforeach()
