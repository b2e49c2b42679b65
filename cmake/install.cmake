# `cmake --install build --prefix P` puts the libraries in P/lib, the headers in P/include/seqgrad
# (included as "tensor/all.h", "train/trainer.h", ...), the program in P/bin and the CMake package
# in P/lib/cmake/seqgrad, so that find_package(seqgrad) finds the targets as seqgrad::<name>.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(seqgrad_layers tensor autograd nn optim train data models)
foreach(layer ${seqgrad_layers})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/seqgrad/${layer}
          FILES_MATCHING PATTERN "*.h")
  list(APPEND seqgrad_library_targets seqgrad_${layer})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/seqgrad.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/seqgrad)
install(TARGETS ${seqgrad_library_targets} seqgrad_models_all EXPORT seqgradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS seqgrad RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT seqgradTargets NAMESPACE seqgrad:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/seqgrad)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/seqgradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/seqgradConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/seqgrad)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/seqgradConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/seqgradConfig.cmake
              ${PROJECT_BINARY_DIR}/seqgradConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/seqgrad)
