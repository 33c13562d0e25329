# SPDX-License-Identifier: Apache-2.0
# package.cmake - the Debian packages, built by CPack from what
# cmake/install.cmake installs (`cpack -G DEB` in the build tree, or
# scripts/package). Three packages, as Debian splits a library:
#
#   imgstream         component Runtime: the tool, the default model,
#                     systemd units, man pages, bash completion;
#                     Depends computed by dpkg-shlibdeps, nats-server only
#                     Suggested (a worker may read a folder or S3)
#   libimgstream0     component Library: libimgstream.so.0 (+ shlibs)
#   libimgstream-dev  component Development: headers, libimgstream.a,
#                     the .so link, imgstream.pc, the CMake package
#
# Each gets /usr/share/doc/<package>/copyright and changelog.Debian.gz
# (installed only into the packages: EXCLUDE_FROM_ALL). The revision is
# IMS_DEB_REVISION (default 1), so an upgrade can be built from the
# same source.

set(IMS_DEB_REVISION 1 CACHE STRING "Debian revision of the packages")
set(ims_deb_maintainer "imgstream maintainers <maintainers@imgstream.invalid>")
set(ims_deb_version "${PROJECT_VERSION}-${IMS_DEB_REVISION}")

# changelog.Debian.gz and copyright of each package.
set(ims_deb_docs ${CMAKE_BINARY_DIR}/generated/deb)
foreach(pair "Runtime:imgstream" "Library:libimgstream0"
             "Development:libimgstream-dev")
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 ims_deb_source)
  set(out ${ims_deb_docs}/${ims_deb_source})
  file(MAKE_DIRECTORY ${out})
  configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/changelog.in
                 ${out}/changelog.Debian @ONLY)
  # gzip -n: no name or time stamp inside, so the package is
  # reproducible (lintian's package-contains-timestamped-gzip).
  execute_process(COMMAND gzip -9nf ${out}/changelog.Debian
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${out}/changelog.Debian failed")
  endif()
  install(FILES ${out}/changelog.Debian.gz
                ${CMAKE_SOURCE_DIR}/packaging/debian/copyright
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${ims_deb_source}
          COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME imgstream)
set(CPACK_PACKAGE_VENDOR "the imgstream authors")
set(CPACK_PACKAGE_CONTACT "${ims_deb_maintainer}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENTS_ALL Runtime Library Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${IMS_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ims_deb_maintainer}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tool's libimgstream.so.0 is in libimgstream0, not on this system:
# dpkg-shlibdeps looks for it in the build tree, and the Depends on it
# comes from the component dependency below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME imgstream)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS nats-server)
# systemd reads the units (postinst), workers stop on removal (prerm) and
# restart on an upgrade (postinst); purge deletes their state (postrm).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/imgstream/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/imgstream/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/imgstream/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_RUNTIME_DEPENDS Library)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"real-time image classification of streams of photos
imgstream classifies images as they land in a folder, an S3-protocol
bucket or a NATS JetStream stream, with a quantized MobileNetV2, in
micro-batches with an exactly-once checkpoint, and learns the user's
own classes online. This package holds the imgstream tool (stream,
produce, classify, results), the default model, systemd units to run
workers as services, manual pages and bash completion.")

set(CPACK_DEBIAN_LIBRARY_PACKAGE_NAME libimgstream0)
set(CPACK_DEBIAN_LIBRARY_PACKAGE_SECTION libs)
# shlibs: "libimgstream 0 libimgstream0 (>= 0.1.0-1)", for packages
# built against it; the ldconfig trigger (lintian: lacks-ldconfig-trigger)
# updates the loader's cache.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_LIBRARY_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/libimgstream0/triggers)
set(CPACK_DEBIAN_LIBRARY_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_LIBRARY_DESCRIPTION
"real-time image classification of streams - shared library
libimgstream decodes JPEG, PNG and BMP images, runs quantized and float
TFLite and ONNX MobileNet-family classifiers on XNNPACK and oneDNN, and
runs exactly-once micro-batch streams over folders, S3 buckets and NATS
JetStream. This package holds the shared library.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libimgstream-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SHLIBDEPS OFF)
set(CPACK_COMPONENT_DEVELOPMENT_DEPENDS Library)
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
"real-time image classification of streams - development files
libimgstream decodes images, runs MobileNet-family classifiers and
exactly-once micro-batch streams. This package holds the headers, the
static library, the pkg-config file and the CMake package.")

include(CPack)
