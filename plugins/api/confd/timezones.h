// Time zones for schedules: a zone's UTC offsets read from its TZif file in
// /usr/share/zoneinfo (the server's own from /etc/localtime), once per
// snapshot on the executor, so the dialplan converts times without I/O.
#pragma once

#include <filesystem>
#include <string>

#include <dialtone/config.h>
#include <dialtone/result.h>

namespace dialtone::plugins::api::confd {

// The zone `name` ("Europe/Paris"; "" for the server's zone) under `root`.
// Past the last transition of the file (2037 in Debian's tzdata) the last
// offset holds: the file's closing POSIX rule is not read.
sdk::Result<sdk::ConfigZone> read_zone(const std::string& name,
                                       const std::filesystem::path& root = "/usr/share/zoneinfo");

}  // namespace dialtone::plugins::api::confd
