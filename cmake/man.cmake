# SPDX-License-Identifier: Apache-2.0
# man.cmake - the manual pages, from one scdoc source each
# (docs/man/*.1.scd), built into <build>/man/*.1.gz (gzip -n: no time
# stamp, as Debian wants them) and installed into share/man/man1. The
# pages list
# exactly the options of each command's table, which tests/cli_man.c
# checks against the tool and its --help.
find_program(SCDOC_EXECUTABLE scdoc)
if(NOT SCDOC_EXECUTABLE)
  message(WARNING "scdoc not found (scripts/install-deps): no manual pages")
  return()
endif()
file(GLOB ims_man_sources CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/docs/man/*.1.scd)
set(ims_man_pages)
foreach(src ${ims_man_sources})
  get_filename_component(page ${src} NAME_WLE) # imgstream-stream.1
  set(out ${CMAKE_BINARY_DIR}/man/${page})
  add_custom_command(
    OUTPUT ${out}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "'${SCDOC_EXECUTABLE}' < '${src}' > '${out}' && gzip -9nf -k '${out}'"
    DEPENDS ${src}
    COMMENT "Manual page ${page}"
    VERBATIM)
  list(APPEND ims_man_pages ${out}.gz)
endforeach()
add_custom_target(man_pages ALL DEPENDS ${ims_man_pages})
install(FILES ${ims_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT Runtime)
