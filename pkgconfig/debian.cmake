# Debian packages, built with CPack from the install components
# (docs/packaging.md):
#   libsevmig0     component libs   the shared library
#   libsevmig-dev  component dev    headers, static library, libsevmig.so,
#                                   pkg-config and CMake files, docs, examples
#   sevmig-tools   component tools  the three tools, man pages, completion
# Build them from a tree configured with -DCMAKE_INSTALL_PREFIX=/usr (so that
# GNUInstallDirs picks the multiarch libdir): `cpack -G DEB` in that tree.
#
# What only a package carries is installed by rules marked EXCLUDE_FROM_ALL,
# which a component install (CPack's) runs and a plain `cmake --install`
# does not: each package's copyright and changelog, and gzipped man pages.
# What only a plain install carries has a component no package includes:
# LICENSE (component license) and the uncompressed man pages (man).

set(SEVMIG_DEB_MAINTAINER "libsevmig maintainers <maintainers@users.noreply.h-seed-baf08551.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(SEVMIG_DEB_LIBS libsevmig${SEVMIG_SOVERSION})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sevmig)
set(CPACK_PACKAGE_VENDOR "The libsevmig authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${SEVMIG_DEB_MAINTAINER}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before each
# package's own synopsis (the first line of its description).
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_FILE_NAME sevmig-${PROJECT_VERSION})
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/pkgconfig/cpack_check.cmake)
set(CPACK_SEVMIG_CONFIGURED_PREFIX "${CMAKE_INSTALL_PREFIX}") # read by cpack_check.cmake

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL libs dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SEVMIG_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps finds the system libraries' packages; the library's own
# package is not installed while building, so the tools' dependency on it
# comes from the component dependency (an exact version: one build).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps runs in the tools' staging directory; the library is in the
# libs component's, next to it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ../libs${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_COMPONENT_LIBS_DISPLAY_NAME "shared library")
set(CPACK_DEBIAN_LIBS_PACKAGE_NAME ${SEVMIG_DEB_LIBS})
set(CPACK_DEBIAN_LIBS_PACKAGE_SECTION libs)
# The ldconfig trigger Debian wants for a shared library. (CPack also writes
# a postinst and postrm running ldconfig, which lintian only warns about.)
file(WRITE ${PROJECT_BINARY_DIR}/deb/libs/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_LIBS_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/libs/triggers)
set(CPACK_COMPONENT_LIBS_DESCRIPTION
  "AMD SEV live-migration library
libsevmig moves a confidential (AMD SEV, SEV-ES) virtual machine between
hosts: it tracks which guest pages are private and which are shared,
drives the platform firmware's migration commands (through KVM, or a
software model of the firmware), and writes and reads an authenticated
migration stream over files, pipes, TCP or TLS.
.
This package contains the shared library.")

set(CPACK_COMPONENT_DEV_DISPLAY_NAME "development files")
set(CPACK_COMPONENT_DEV_DEPENDS libs)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsevmig-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The static library links against these; the CMake package's static
# component and `pkg-config --static` name them.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libssl-dev (>= 3.0), uuid-dev, libzstd-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "AMD SEV live-migration library - development files
libsevmig moves a confidential (AMD SEV, SEV-ES) virtual machine between
hosts: page-state tracking, the firmware's migration commands and an
authenticated migration stream.
.
This package contains the headers, the static library, the pkg-config
file and the CMake package (find_package(sevmig COMPONENTS shared static)),
the documentation of the API and the formats, and example programs.")

set(CPACK_COMPONENT_TOOLS_DISPLAY_NAME "command-line tools")
set(CPACK_COMPONENT_TOOLS_DEPENDS libs)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME sevmig-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "AMD SEV live-migration tools
Command-line tools over libsevmig for migrating confidential (AMD SEV,
SEV-ES) virtual machines:
 sevmig-send  - sends a guest's memory and page state as a migration stream;
 sevmig-recv  - receives a stream and writes the guest's memory;
 sevmig-dump  - inspects, converts and verifies page-state files and
                streams, and reports what the host offers.
.
This package contains the tools, their manual pages and bash completion.")

# The per-package files. The copyright file is made from LICENSE, so the
# two cannot disagree; the changelog is kept by hand in pkgconfig/changelog.
find_program(SEVMIG_GZIP gzip)
if(SEVMIG_GZIP)
  file(READ ${PROJECT_SOURCE_DIR}/LICENSE lic)
  string(REGEX MATCH "Copyright \\(c\\) ([^\n]*)" _ "${lic}")
  set(holder "${CMAKE_MATCH_1}")
  string(REGEX REPLACE "^[^\n]*\n\n[^\n]*\n\n" "" terms "${lic}") # title, copyright
  string(REGEX REPLACE "\n+$" "" terms "${terms}")
  string(REPLACE "\n\n" "\n.\n" terms "${terms}")
  string(REPLACE "\n" "\n " terms "${terms}")
  file(WRITE ${PROJECT_BINARY_DIR}/deb/copyright
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libsevmig

Files: *
Copyright: ${holder}
License: Expat
 ${terms}
")

  file(STRINGS ${PROJECT_SOURCE_DIR}/pkgconfig/changelog top LIMIT_COUNT 1)
  if(NOT top MATCHES "^sevmig \\(${PROJECT_VERSION}\\) ")
    message(WARNING "pkgconfig/changelog starts with '${top}', not version ${PROJECT_VERSION}: "
                    "add an entry before building Debian packages")
  endif()

  # gzip -n: no name or time stamp, so that the packages are reproducible.
  set(gz_files ${PROJECT_BINARY_DIR}/deb/changelog.gz)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/changelog.gz
    COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/pkgconfig/changelog changelog
    COMMAND ${SEVMIG_GZIP} -9nf changelog
    DEPENDS ${PROJECT_SOURCE_DIR}/pkgconfig/changelog
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/deb VERBATIM)
  foreach(page ${SEVMIG_MAN1})
    get_filename_component(name ${page} NAME)
    add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/${name}.gz
      COMMAND ${CMAKE_COMMAND} -E copy ${page} ${name}
      COMMAND ${SEVMIG_GZIP} -9nf ${name}
      DEPENDS ${page} WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/deb VERBATIM)
    list(APPEND gz_files ${PROJECT_BINARY_DIR}/deb/${name}.gz)
    install(FILES ${PROJECT_BINARY_DIR}/deb/${name}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
            COMPONENT tools EXCLUDE_FROM_ALL)
  endforeach()
  add_custom_target(sevmig_deb_files ALL DEPENDS ${gz_files})

  foreach(pair "libs;${SEVMIG_DEB_LIBS}" "dev;libsevmig-dev" "tools;sevmig-tools")
    list(GET pair 0 comp)
    list(GET pair 1 pkg)
    install(FILES ${PROJECT_BINARY_DIR}/deb/copyright ${PROJECT_BINARY_DIR}/deb/changelog.gz
            DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${pkg} COMPONENT ${comp} EXCLUDE_FROM_ALL)
  endforeach()
else()
  message(STATUS "gzip not found: Debian packages would lack changelogs and compressed man pages")
endif()

include(CPack)
