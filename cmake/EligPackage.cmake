# EligPackage.cmake — what an installable library of this project ships for
# its users, written once for libelig (lib/) and libeligclient (client/):
#
#   elig_install_package(NAME <pkg> VERSION <v> COMPONENT <component>
#                        CMAKE_DIR <dir> PC_IN <file.pc.in>)
#
# installs <pkg>Config.cmake (from <pkg>Config.cmake.in beside the caller)
# and <pkg>ConfigVersion.cmake into CMAKE_DIR, with the export set
# <pkg>Targets under the namespace <pkg>::, and <pkg>.pc from PC_IN into
# the pkg-config directory. The .pc file is relocatable: its prefix is
# found from the file's own place (${pcfiledir}), so `cmake --install
# --prefix DIR` works whatever prefix was configured. PC_IN sees
# @PC_PREFIX@, @PC_LIBDIR@, @PC_INCLUDEDIR@ and @PC_VERSION@.
include(CMakePackageConfigHelpers)

function(elig_install_package)
  cmake_parse_arguments(P "" "NAME;VERSION;COMPONENT;CMAKE_DIR;PC_IN" "" ${ARGN})
  install(EXPORT ${P_NAME}Targets
    NAMESPACE ${P_NAME}::
    DESTINATION ${P_CMAKE_DIR}
    COMPONENT ${P_COMPONENT})
  configure_package_config_file(${P_NAME}Config.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}Config.cmake
    INSTALL_DESTINATION ${P_CMAKE_DIR})
  # 0.x: a minor version may change the ABI, so only the same minor matches.
  write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}ConfigVersion.cmake
    VERSION ${P_VERSION}
    COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}Config.cmake
                ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}ConfigVersion.cmake
    DESTINATION ${P_CMAKE_DIR} COMPONENT ${P_COMPONENT})

  set(pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH up /p/${pcdir} /p)
    string(REGEX REPLACE "/$" "" up "${up}")
    set(PC_PREFIX "\${pcfiledir}/${up}")
  endif()
  foreach(d LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
      set(PC_${d} "${CMAKE_INSTALL_${d}}")
    else()
      set(PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
    endif()
  endforeach()
  set(PC_VERSION ${P_VERSION})
  configure_file(${P_PC_IN} ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${P_NAME}.pc
    DESTINATION ${pcdir} COMPONENT ${P_COMPONENT})
endfunction()
