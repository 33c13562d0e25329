# SPDX-License-Identifier: Apache-2.0
# The live page (web/, served by `imgstream stream --http`) in a real
# browser: browser_page (tests/browser/browser_page.c) runs `imgstream
# produce` and `imgstream stream --learn` on the shared flowers, as
# scripts/demo does, and tests/browser/page_check.mjs drives Debian's
# headless chromium on the page through the npm package playwright-core
# (pinned by tests/browser/package-lock.json, installed into the build
# tree by the browser_npm_install fixture: tests/browser/setup.sh, `npm
# ci`; it skips when node, npm or chromium is missing, and fails instead
# with CI=true). The screenshot it takes is kept as
# <build>/tests/artifacts/browser_page.png.
#
# Run in one of CI's three builds only (IMS_ONCE_TESTS, tests/
# CMakeLists.txt: gcc without sanitizers; DISABLED, "Not Run", in the
# clang and clang+ASan builds). What it checks - the page's JavaScript
# and what it shows of the server's answers - is the same whichever
# compiler built the server, and the C code it runs (the HTTP server,
# the thumbnails) is checked under ASan by the http_* tests; two more
# runs would add a Chromium to each build, and under ASan a slower
# stream for the page to wait on. The test binary is built everywhere,
# so it compiles with every compiler.
find_program(NODE_EXECUTABLE node)
find_program(CHROMIUM_EXECUTABLE chromium)
set(ims_browser_dir ${CMAKE_CURRENT_BINARY_DIR}/browser)
add_test(NAME browser_npm_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/browser/setup.sh
                 ${ims_browser_dir})
set_tests_properties(browser_npm_install PROPERTIES
  FIXTURES_SETUP browser_npm SKIP_RETURN_CODE 77 TIMEOUT 600
  ENVIRONMENT "IMGSTREAM_CHROMIUM=${CHROMIUM_EXECUTABLE}"
  ${IMS_ONCE_PROPERTIES})
set(ims_browser_script ${CMAKE_CURRENT_SOURCE_DIR}/browser/page_check.mjs)
ims_add_test(NAME browser_page SOURCES browser/browser_page.c
  ENV "IMGSTREAM_NODE=${NODE_EXECUTABLE}"
      "IMGSTREAM_CHROMIUM=${CHROMIUM_EXECUTABLE}"
      "IMGSTREAM_BROWSER_DIR=${ims_browser_dir}"
      "IMGSTREAM_BROWSER_SCRIPT=${ims_browser_script}"
      "IMGSTREAM_ARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}/artifacts"
  PROPERTIES FIXTURES_REQUIRED browser_npm TIMEOUT 300
             ${IMS_ONCE_PROPERTIES})
add_dependencies(browser_page imgstream_tool)
