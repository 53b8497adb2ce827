// Audio files uploaded through confd (/1.1/moh, /1.1/sounds): checked before
// they land (a WAV libsndfile decodes, mono, 8-48 kHz, with frames) and
// written whole or not at all (a hidden temporary beside the file, renamed).
// Both run on HTTP threads.
//
// @code
//   if (auto why = audio_problem(req.body)) throw ApiError{400, {"Input Error - file 'a.wav': " + *why}};
//   write_whole(dir, "a.wav", req.body, "check moh.path and its permissions");
// @endcode
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace dialtone::plugins::api::confd {

// Why `body` is not a sound the engine plays (nullopt: it is).
std::optional<std::string> audio_problem(const std::string& body);

// Writes `body` to dir/name (creating dir) through a hidden temporary;
// throws ApiError 500 naming the file and `fix` when it cannot, leaving
// nothing half-written and a file already there as it was.
void write_whole(const std::filesystem::path& dir, const std::string& name, const std::string& body,
                 const std::string& fix);

// The file's bytes; throws ApiError 500 when it cannot be read.
std::string read_whole(const std::filesystem::path& file);

}  // namespace dialtone::plugins::api::confd
