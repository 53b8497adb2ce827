// Terminated media: RTP endpoints that Dialtone itself speaks and listens on,
// the sounds they play and the mixers that join them. Provided by the
// `media.engine` plugin as the `media.engine` service.
//
// @code
//   #include <dialtone/media.h>
//   #include <dialtone/services.h>
//   namespace media = dialtone::sdk::media;
//
//   auto engine = host_.services().find<media::MediaEngine>();   // null if not loaded
//   media::EndpointConfig cfg;
//   cfg.formats = {{media::Codec::pcma, 8}, {media::Codec::pcmu, 0}};  // first one is sent
//   cfg.remote = "127.0.0.1:40000";               // from the peer's SDP; latching may move it
//   auto ep = engine->create_endpoint(cfg);       // Result<shared_ptr<Endpoint>>
//   if (!ep) return ep.error();
//   // put (*ep)->local_port() into our SDP answer, then:
//   (*ep)->set_handler([](const media::MediaEvent& e) {   // on the engine's event thread
//     if (e.type == media::EventType::dtmf) { /* e.digit */ }
//     if (e.type == media::EventType::play_done) { /* next step of the IVR */ }
//   });
//   (*ep)->play({"conf-getpin", "beep"});         // names resolved by sound path + language
//   (*ep)->play_tone("busy");                     // the endpoint's country table
//   auto bridge = engine->create_mixer();         // 2 legs: a transcoding bridge; N: a conference
//   bridge->add(*ep);
// @endcode
//
// Threads: every method may be called from any thread and never blocks on
// I/O (sound files load on the engine's I/O thread). Event handlers run on the
// engine's event thread: keep them short and post real work elsewhere.
// Dropping the last shared_ptr to an endpoint closes its socket.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/result.h"
#include "dialtone/text.h"

namespace dialtone::sdk::media {

enum class Codec : std::uint8_t {
  pcmu,  // G.711 mu-law, 8 kHz
  pcma,  // G.711 A-law, 8 kHz
  g722,  // 16 kHz audio, RTP clock 8000 (RFC 3551)
  opus,  // RTP clock 48000 (RFC 7587); offered only when both ends do
};

// The SDP rtpmap encoding of a codec: "PCMU/8000", "G722/8000", "opus/48000/2".
inline std::string rtpmap(Codec c) {
  switch (c) {
    case Codec::pcmu: return "PCMU/8000";
    case Codec::pcma: return "PCMA/8000";
    case Codec::g722: return "G722/8000";
    case Codec::opus: return "opus/48000/2";
  }
  return {};
}

// The codec of an rtpmap encoding name ("pcmu", "G722", "opus"; case-insensitive).
inline std::optional<Codec> codec_from_name(std::string_view name) {
  const std::string n = text::to_lower(name.substr(0, name.find('/')));
  if (n == "pcmu") return Codec::pcmu;
  if (n == "pcma") return Codec::pcma;
  if (n == "g722") return Codec::g722;
  if (n == "opus") return Codec::opus;
  return std::nullopt;
}

// One payload type of the negotiated SDP.
struct PayloadFormat {
  Codec codec = Codec::pcmu;
  std::uint8_t payload_type = 0;
};

// An SDP `a=crypto` line (RFC 4568) for SRTP with SDES keys.
// AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 are supported.
struct CryptoAttribute {
  int tag = 1;
  std::string suite = "AES_CM_128_HMAC_SHA1_80";
  std::string key_base64;  // 30 bytes: 16 of master key then 14 of salt

  // The value after "a=crypto:", e.g. "1 AES_CM_128_HMAC_SHA1_80 inline:<key>".
  std::string to_sdp() const { return std::to_string(tag) + " " + suite + " inline:" + key_base64; }

  // Parses the value after "a=crypto:". Lifetime and MKI parameters after a
  // '|' are ignored; session parameters are not supported and give nullopt.
  static std::optional<CryptoAttribute> parse(std::string_view v) {
    auto sp1 = v.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    auto sp2 = v.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return std::nullopt;
    CryptoAttribute a;
    try {
      a.tag = std::stoi(std::string(v.substr(0, sp1)));
    } catch (...) {
      return std::nullopt;
    }
    a.suite = std::string(v.substr(sp1 + 1, sp2 - sp1 - 1));
    auto key = v.substr(sp2 + 1);
    if (key.substr(0, 7) != "inline:") return std::nullopt;
    key.remove_prefix(7);
    auto end = key.find_first_of("| ");
    a.key_base64 = std::string(key.substr(0, end));
    if (end != std::string_view::npos && key[end] == ' ') return std::nullopt;  // session params
    return a;
  }
};

struct EndpointConfig {
  // Accepted payload types; the first one is what the endpoint sends.
  std::vector<PayloadFormat> formats;
  // RFC 4733 telephone-event payload type; 0 when the peer did not offer it
  // (digits are then sent and detected in-band).
  std::uint8_t telephone_event_pt = 101;
  // "host:port" from the peer's SDP; may be empty and set later.
  std::string remote;
  // Follow the source address of the peer's packets (phones behind NAT).
  bool latch = true;
  // SRTP: both set, or neither. `local` is our a=crypto (what we send with),
  // `remote` the peer's (what we receive with).
  std::optional<CryptoAttribute> srtp_local;
  std::optional<CryptoAttribute> srtp_remote;
  // Detect DTMF in the audio too (phones without RFC 4733). Digits already
  // announced with RFC 4733 by this peer switch in-band detection off.
  bool detect_inband_dtmf = true;
  // Sound language ("fr", "en"); empty: the engine's `sounds.language`.
  std::string language;
  // Tone table ("fr", "us"); empty: the engine's `tones.country`.
  std::string tone_country;
};

enum class EventType : std::uint8_t {
  dtmf,         // digit, dtmf_source
  play_done,    // the play() list (or a tone with an end) finished or was stopped
  record_done,  // ok false: the file could not be written (detail says why)
  srtp_refused, // the first packet that failed SRTP authentication
  detached,     // channel listeners only: the channel left the engine (hung up)
  play_started, // a play() list is loaded and its first sample goes out now
  fax_done,     // receive_fax() ended: ok, pages, detail (the file, or why it failed)
  fax_tone,     // detect_fax(true): a fax machine is calling; detail "cng" (its tone) or "t38" (moved to T.38)
  fax_started,  // receive_fax() began: the endpoint answers as a fax machine (a backend may move it to T.38)
};

enum class DtmfSource : std::uint8_t { rfc4733, inband };

struct MediaEvent {
  EventType type = EventType::dtmf;
  char digit = 0;
  DtmfSource dtmf_source = DtmfSource::rfc4733;
  bool ok = true;          // play_done: false if a sound was missing (a tone was played instead)
  bool stopped = false;    // play_done: stop_playing() or a DTMF with stop_on_dtmf
  std::string detail;
  int pages = 0;           // fax_done: pages received (appended last)
};

using EventHandler = std::function<void(const MediaEvent&)>;

struct PlayOptions {
  bool loop = false;          // music: start again after the last file
  bool stop_on_dtmf = false;  // prompts that a digit interrupts (read_digits)
};

struct RecordOptions {
  int max_seconds = 0;        // 0: until stop_recording()
  int sample_rate = 8000;     // 8000 or 16000
  bool both_directions = false;  // the peer and what is sent to it, mixed
  int silence_seconds = 0;    // > 0: ends after this much silence once sound was heard
  // The file is there whole or not at all: written to a hidden temporary
  // beside it (.<name>.part) and renamed once closed; removed when a write
  // fails (full disk) or when no sample came.
  bool whole = false;
};

// A T.30 fax received over G.711 audio (spandsp) into a TIFF file.
struct FaxOptions {
  // The call ends as "not a fax" when no fax machine answered our DIS within
  // this many seconds (T.30 allows 35).
  int detect_seconds = 35;
  // Our station identifier (TSI/CSI), up to 20 characters.
  std::string local_id;
  // Error correction mode (ECM) offered to the sender.
  bool ecm = true;
  // Gets the fax_done event once, on the engine's event thread, even when
  // the call hung up first (the endpoint's handler gets it only while the
  // endpoint lives).
  EventHandler on_done;
};

// T.38 fax over UDPTL (ITU-T T.38 annex D): the parameters of an SDP
// `m=image <port> udptl t38` stream, as the peer offered them (what the
// endpoint sends by) or as we answer them.
struct T38Options {
  int version = 0;               // a=T38FaxVersion
  int max_bitrate = 14400;       // a=T38MaxBitRate
  bool transferred_tcf = false;  // a=T38FaxRateManagement: transferredTCF (false: localTCF)
  int max_datagram = 400;        // a=T38FaxMaxDatagram: the largest UDPTL datagram the peer takes
  bool redundancy = true;        // a=T38FaxUdpEC: t38UDPRedundancy (false: none)
  std::string remote;            // "host:port" of the peer's m=image stream
};

struct EndpointStats {
  std::uint64_t packets_in = 0, packets_out = 0;
  std::uint64_t lost = 0;          // sequence gaps concealed by the jitter buffer
  std::uint64_t late = 0;          // arrived after their playout time, dropped
  std::uint64_t srtp_failures = 0; // failed authentication, dropped
  std::string remote;              // current (possibly latched) peer address
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;

  virtual std::uint16_t local_port() const = 0;
  virtual std::string local_address() const = 0;
  // A re-INVITE moved the peer. Latching still applies.
  virtual void set_remote(std::string host_port) = 0;
  // The peer answered our offer (an outgoing call: the endpoint was created
  // with every format offered): from now on it sends the first of
  // `answer.formats` and accepts those, uses `answer.telephone_event_pt`,
  // sends to `answer.remote` when set, and protects with SRTP when both
  // keys are set (taken once). Formats the engine lacks are refused with a
  // log line and the endpoint keeps what it had.
  virtual void apply_answer(EndpointConfig answer) = 0;
  virtual void set_handler(EventHandler handler) = 0;

  // Plays sounds in sequence: names ("vm-intro") looked up by sound path and
  // language, or file paths (.wav, .gsm, .sln, .sln16, .raw). A missing or
  // corrupt file logs one line and plays the `info` tone in its place.
  // Replaces what was playing.
  virtual void play(std::vector<std::string> sounds, PlayOptions options = {}) = 0;
  // dial, ring, busy, congestion, callwaiting, info, record ...: the country table.
  // Tones without an end play until stop_playing() or another play.
  virtual void play_tone(std::string_view name) = 0;
  // Music on hold: the files of class `moh_class` (MediaEngine::music_files),
  // looping until stop_playing() or another play. The class is read on the
  // engine's I/O thread; a class without files logs one line and plays a
  // repeating info tone instead of silence.
  virtual void play_music(std::string moh_class) = 0;
  virtual void stop_playing() = 0;

  // The file is opened on the I/O thread; errors arrive as record_done(ok=false).
  virtual void record(std::filesystem::path wav_file, RecordOptions options = {}) = 0;
  virtual void stop_recording() = 0;

  // RFC 4733 events when negotiated, otherwise in-band tones. 0-9 * # A-D.
  virtual void send_dtmf(std::string_view digits) = 0;
  // Sends back what is received (the *55 echo test).
  virtual void echo(bool on) = 0;

  virtual EndpointStats stats() const = 0;
  // Appended last (older plugins keep their vtable): the language the next
  // play() resolves sound names in ("fr_FR", "fr"; empty: the engine's).
  virtual void set_language(std::string language) { (void)language; }
  // Appended last: answers a fax on this endpoint (T.30 receiver over the
  // G.711 audio; while it runs the endpoint plays and records nothing else).
  // The pages go to `tiff_file`, written as <tiff_file>.part and renamed
  // when the fax ends well; a call that is not a fax, or that drops before
  // the first page, leaves no file. The end arrives as `fax_done` (ok,
  // pages, detail: the file or why it failed). False when this engine cannot
  // receive faxes (no event will come).
  virtual bool receive_fax(std::filesystem::path tiff_file, FaxOptions options) {
    (void)tiff_file;
    (void)options;
    return false;
  }
  // Appended last: the peer moved the call to T.38 (a re-INVITE with an
  // m=image udptl t38 stream, answered on this endpoint's port). From now on
  // the endpoint speaks UDPTL to `peer.remote` instead of RTP: a fax being
  // received (or received later with receive_fax) goes on as a T.38
  // terminal, with the same file and fax_done event. An audio answer
  // (apply_answer with formats) goes back to RTP. False when this engine
  // has no T.38.
  virtual bool use_t38(T38Options peer) {
    (void)peer;
    return false;
  }
  // Appended last: fax detection (seed 5.14.2). While on, the caller's audio
  // is listened to for a fax machine's calling tone (CNG, spandsp); once it
  // is heard, or the peer moves the call to T.38, the endpoint sends one
  // `fax_tone` event and detection stops by itself. Nothing else changes:
  // what is played goes on. False when this engine cannot detect faxes.
  virtual bool detect_fax(bool on) {
    (void)on;
    return false;
  }
  // Appended last: records the whole call to `wav_file` (8 kHz), what the
  // peer says and what it hears mixed, until stop_call_recording() or the
  // end of the endpoint. It runs beside record() (an application recording
  // a voicemail message of a recorded call), sends no record_done, and a
  // file that cannot be written logs one line. The default records with
  // record() instead (engines without a second recording).
  virtual void record_call(std::filesystem::path wav_file) {
    RecordOptions o;
    o.both_directions = true;
    record(std::move(wav_file), o);
  }
  virtual void stop_call_recording() { stop_recording(); }
};

// Each member hears every other member and not itself. Two members make a
// bridge that transcodes between their codecs.
class Mixer {
 public:
  virtual ~Mixer() = default;
  virtual void add(const std::shared_ptr<Endpoint>& endpoint) = 0;
  virtual void remove(const std::shared_ptr<Endpoint>& endpoint) = 0;
  // A muted member is heard by nobody but still hears the others.
  virtual void mute(const std::shared_ptr<Endpoint>& endpoint, bool muted) = 0;
  virtual std::size_t size() const = 0;
};

class MediaEngine {
 public:
  static constexpr std::string_view kServiceName = "media.engine";
  // 2: call channels attached to endpoints (attach_channel, listen).
  static constexpr int kServiceVersion = 2;
  virtual ~MediaEngine() = default;

  // Binds a UDP port from the configured range on the engine's address.
  virtual Result<std::shared_ptr<Endpoint>> create_endpoint(EndpointConfig config) = 0;
  virtual std::shared_ptr<Mixer> create_mixer() = 0;

  // Codecs this build supports, in the engine's preference order.
  virtual std::vector<Codec> codecs() const = 0;
  // A fresh random SRTP key for our side of an offer or answer.
  virtual CryptoAttribute new_crypto(int tag = 1, std::string suite = "AES_CM_128_HMAC_SHA1_80") = 0;

  // The file a sound name resolves to in `language` (falling back to the
  // engine's default, then to "en"); nullopt if none.
  virtual std::optional<std::filesystem::path> find_sound(std::string_view name,
                                                          std::string_view language = {}) const = 0;
  // The files of a music-on-hold class: `default` is `sounds.moh_path` itself,
  // another class a sub-directory of it. Sorted by name.
  virtual std::vector<std::filesystem::path> music_files(std::string_view moh_class) const = 0;

  // ---- Call channels whose media ends in the engine ---------------------
  // A backend that answers a channel with an endpoint attaches it under the
  // call core's channel id; media applications (call:play, voicemail,
  // conferences) find it there. The engine then owns the endpoint's handler:
  // its events go to every listener of the channel, and its digits to the
  // DTMF sink (the call core). Replaces an endpoint attached before.
  virtual void attach_channel(std::string channel_id, std::shared_ptr<Endpoint> endpoint) = 0;
  // The channel ended or its media moved away: listeners get `detached`.
  virtual void detach_channel(std::string_view channel_id) = 0;
  // Null when the channel's media does not end in the engine.
  virtual std::shared_ptr<Endpoint> channel_endpoint(std::string_view channel_id) const = 0;
  // Events of the channel's endpoint, on the engine's event thread, until
  // unlisten(); 0 when the channel is not attached (nothing will come).
  virtual std::uint64_t listen(std::string_view channel_id, EventHandler handler) = 0;
  virtual void unlisten(std::string_view channel_id, std::uint64_t listener) = 0;
  // Where digits of attached channels go (besides listeners); set once by
  // the plugin that provides the engine.
  virtual void set_dtmf_sink(std::function<void(const std::string& channel_id, char digit, DtmfSource source)> sink) = 0;

  // Appended last, so that plugins built before it keep their vtable: the
  // music-on-hold root (`sounds.moh_path`), which the configuration API's
  // /1.1/moh manages; empty when unknown.
  virtual std::filesystem::path music_path() const { return {}; }
  // The writable sound store (`sounds.store`): one directory per category
  // (`recordings`: the sounds users record with *9), which the configuration
  // API's /1.1/sounds lists and serves; empty when unknown.
  virtual std::filesystem::path sound_store_path() const { return {}; }
};

}  // namespace dialtone::sdk::media
