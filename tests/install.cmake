# SPDX-License-Identifier: Apache-2.0
# Installing: `cmake --install` into a staging folder, the tree moved,
# then the tool run from there with no source tree and no ../shared; the
# Debian packages built by CPack, checked, extracted with dpkg -x and run
# the same way, and lintian on them in the gcc build only (IMS_ONCE_TESTS)
# (tests/install_tree.c). It installs this build, so it depends on
# everything `cmake --install` copies.
set(ims_example_cflags "")
if(IMS_SANITIZE)
  set(ims_example_cflags "-fsanitize=address,undefined")
endif()
ims_add_test(NAME install_tree SOURCES install_tree.c
  ENV "IMS_BUILD_DIR=${CMAKE_BINARY_DIR}" "IMS_CMAKE=${CMAKE_COMMAND}"
      "IMS_CC=${CMAKE_C_COMPILER}" "IMS_EXAMPLE_CFLAGS=${ims_example_cflags}"
      "IMS_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
      "IMS_LIBDIR=${CMAKE_INSTALL_LIBDIR}" "IMS_CPACK=${CMAKE_CPACK_COMMAND}"
      "IMS_ONCE_TESTS=$<IF:$<BOOL:${IMS_ONCE_TESTS}>,ON,OFF>"
  PROPERTIES TIMEOUT 300)
add_dependencies(install_tree imgstream_tool imgstream_shared imgstream)
if(TARGET man_pages)
  add_dependencies(install_tree man_pages)
endif()
