# SPDX-License-Identifier: Apache-2.0
# install_units.cmake - run at install time (install(SCRIPT), from
# cmake/install.cmake): the systemd units of packaging/systemd/ with
# @bindir@ set to <install prefix>/bin, so that `cmake --install --prefix
# ANY` and the .deb (prefix /usr) each get units that run their own
# binary. file(INSTALL) honours DESTDIR as install() does.
#
# Input: IMS_UNITS_SRC (packaging/systemd), IMS_UNITS_TMP (a folder of
# the build tree), CMAKE_INSTALL_BINDIR; CMAKE_INSTALL_PREFIX is the
# install's.
foreach(unit imgstream-stream@.service imgstream-produce@.service)
  set(bindir "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}")
  configure_file("${IMS_UNITS_SRC}/${unit}" "${IMS_UNITS_TMP}/${unit}" @ONLY)
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
       TYPE FILE FILES "${IMS_UNITS_TMP}/${unit}")
endforeach()
