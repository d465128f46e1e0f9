# Read by cpack before it packages (CPACK_PROJECT_CONFIG_FILE).
# GNUInstallDirs chooses Debian's multiarch libdir (lib/<triplet>) only for
# the prefix /usr; packages from a tree configured for another prefix put the
# library in /usr/lib instead. They still work, but say so.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_SEVMIG_CONFIGURED_PREFIX STREQUAL "/usr")
  message(WARNING "this build tree was configured with CMAKE_INSTALL_PREFIX="
                  "${CPACK_SEVMIG_CONFIGURED_PREFIX}; configure with -DCMAKE_INSTALL_PREFIX=/usr "
                  "for packages in Debian's layout (docs/packaging.md)")
endif()
