# Install rules and the Debian package (CPack DEB): `cmake --install build` or, in the build
# directory, `cpack -G DEB` -> smetsmon_<version>_amd64.deb. Layout:
#   /usr/bin/smetsmon, /usr/bin/smetsmon-loadgen
#   /etc/smetsmon/*.yaml                     conffiles (dpkg keeps an operator's edits on upgrade)
#   /usr/lib/systemd/system/smetsmon.service Type=notify, hardened (deploy/systemd/)
#   /usr/lib/sysusers.d/smetsmon.conf        the smetsmon user (created by postinst)
#   /usr/share/man/man8/smetsmon.8.gz, /usr/share/doc/smetsmon/
#   /var/lib/smetsmon                        state: made by systemd's StateDirectory= at start
# The packaged smetsmon.yaml is config/smetsmon.yaml with the checkpoint and the webhook spool
# under /var/lib/smetsmon (a restart, an upgrade included, resumes from the checkpoint).
include(GNUInstallDirs)
# `cmake --install` and `cpack` package what is built, without building first: the suite runs
# cpack while other tests run this tree's binaries, which a build (a new revision in version.cc
# after a commit) would relink under them.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

install(TARGETS smetsmon smetsmon-loadgen RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

file(READ ${PROJECT_SOURCE_DIR}/config/smetsmon.yaml packaged_settings)
foreach(pair
    "  path: \"\"                    # e.g. /var/lib/smetsmon/state.ckpt:|  path: /var/lib/smetsmon/state.ckpt  #"
    "  spool_dir: \"\"               # durable queue, required with receivers, e.g. /var/lib/smetsmon/webhooks|  spool_dir: /var/lib/smetsmon/webhooks  # durable queue, required with receivers")
  string(REPLACE "|" ";" pair_list "${pair}")
  list(GET pair_list 0 from)
  list(GET pair_list 1 to)
  string(FIND "${packaged_settings}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "cmake/packaging.cmake: config/smetsmon.yaml no longer has '${from}'")
  endif()
  string(REPLACE "${from}" "${to}" packaged_settings "${packaged_settings}")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/package/smetsmon.yaml "${packaged_settings}")

set(SMETSMON_ETC /etc/smetsmon)
install(FILES ${CMAKE_BINARY_DIR}/package/smetsmon.yaml ${PROJECT_SOURCE_DIR}/config/areas.yaml
  ${PROJECT_SOURCE_DIR}/config/alert_catalogue.yaml ${PROJECT_SOURCE_DIR}/config/rules.yaml
  DESTINATION ${SMETSMON_ETC} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/smetsmon.service
  DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/sysusers.conf DESTINATION lib/sysusers.d
  RENAME smetsmon.conf)

# The man page, gzipped as Debian policy wants (-n: no time stamp, so the package is reproducible).
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/package/smetsmon.8.gz
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/docs/smetsmon.8 > ${CMAKE_BINARY_DIR}/package/smetsmon.8.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/smetsmon.8)
add_custom_target(smetsmon_man_page ALL DEPENDS ${CMAKE_BINARY_DIR}/package/smetsmon.8.gz)
install(FILES ${CMAKE_BINARY_DIR}/package/smetsmon.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
  ${PROJECT_SOURCE_DIR}/docs/metrics.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/prometheus ${PROJECT_SOURCE_DIR}/deploy/grafana
  ${PROJECT_SOURCE_DIR}/deploy/alertmanager DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# conffiles: every file under /etc/smetsmon.
set(conffiles "")
foreach(f smetsmon.yaml areas.yaml alert_catalogue.yaml rules.yaml)
  string(APPEND conffiles "${SMETSMON_ETC}/${f}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/package/conffiles "${conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smetsmon)
set(CPACK_PACKAGE_VENDOR "smetsmon")
set(CPACK_PACKAGE_CONTACT "smetsmon maintainers <smetsmon@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GB smart-meter alert monitor (Kafka in; Prometheus, API, webhooks out)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: librdkafka1, libyaml-cpp, ... by soname
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd (>= 247)")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/package/conffiles
  ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
  ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
