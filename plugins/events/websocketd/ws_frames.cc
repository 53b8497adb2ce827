#include "ws_frames.h"

#include <cstdint>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dialtone::plugins::events {

namespace {

void append_header(std::string& f, int opcode, std::size_t n) {
  f.push_back(static_cast<char>(0x80 | (opcode & 0x0f)));  // FIN
  if (n < 126) {
    f.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(126));
    for (int i = 1; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  } else {
    f.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
  }
}

std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto d = s.find('.');
    out.push_back(s.substr(0, d));
    if (d == std::string_view::npos) break;
    s = s.substr(d + 1);
  }
  return out;
}

bool match_segs(const std::vector<std::string_view>& p, std::size_t i, const std::vector<std::string_view>& t,
                std::size_t j) {
  if (i == p.size()) return j == t.size();
  if (p[i] == "#") {
    for (std::size_t k = j; k <= t.size(); ++k)
      if (match_segs(p, i + 1, t, k)) return true;
    return false;
  }
  if (j == t.size() || (p[i] != "*" && p[i] != t[j])) return false;
  return match_segs(p, i + 1, t, j + 1);
}

}  // namespace

std::string server_frame(int opcode, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 10);
  append_header(f, opcode, payload.size());
  f.append(payload);
  return f;
}

std::string event_frame(std::string_view topic, std::string_view body) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("name");
  w.String(topic.data(), static_cast<rapidjson::SizeType>(topic.size()));
  w.Key("data");
  w.RawValue(body.empty() ? "null" : body.data(), body.empty() ? 4 : body.size(), rapidjson::kObjectType);
  w.EndObject();
  return server_frame(kText, std::string_view(sb.GetString(), sb.GetSize()));
}

std::string close_frame(int code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xff));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, 123));  // a control frame's payload is at most 125 bytes
  return server_frame(kClose, payload);
}

std::string reply_frame(std::string_view op, int code, std::string_view msg) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("op");
  w.String(op.data(), static_cast<rapidjson::SizeType>(op.size()));
  w.Key("code");
  w.Int(code);
  if (!msg.empty()) {
    w.Key("msg");
    w.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()));
  }
  w.EndObject();
  return server_frame(kText, std::string_view(sb.GetString(), sb.GetSize()));
}

ClientFrameReader::Status ClientFrameReader::feed(const char* data, std::size_t n, std::vector<ClientMessage>& out) {
  buf_.append(data, n);
  std::size_t at = 0;
  Status st = Status::ok;
  for (;;) {
    std::size_t left = buf_.size() - at;
    if (left < 2) break;
    auto b0 = static_cast<unsigned char>(buf_[at]), b1 = static_cast<unsigned char>(buf_[at + 1]);
    bool fin = b0 & 0x80;
    int op = b0 & 0x0f;
    if ((b0 & 0x70) || !(b1 & 0x80)) {  // no extension was negotiated; a client always masks
      st = Status::protocol_error;
      break;
    }
    std::size_t head = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len == 126) {
      head = 4;
      if (left < head) break;
      len = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf_[at + 2])) << 8) |
            static_cast<unsigned char>(buf_[at + 3]);
    } else if (len == 127) {
      head = 10;
      if (left < head) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[at + 2 + i]);
    }
    bool control = op & 0x08;
    if (control && (!fin || len > 125)) {
      st = Status::protocol_error;
      break;
    }
    if (!control && len + message_.size() > max_) {
      st = Status::too_big;
      break;
    }
    if (left < head + 4 + len) break;
    const char* mask = buf_.data() + at + head;
    std::string payload(buf_.data() + at + head + 4, static_cast<std::size_t>(len));
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
    at += head + 4 + static_cast<std::size_t>(len);
    if (control) {
      out.push_back({op, std::move(payload)});
      continue;
    }
    if (op == kContinuation) {
      if (message_op_ < 0) {
        st = Status::protocol_error;
        break;
      }
      message_ += payload;
    } else if (op == kText || op == kBinary) {
      if (message_op_ >= 0) {
        st = Status::protocol_error;
        break;
      }
      message_op_ = op;
      message_ = std::move(payload);
    } else {
      st = Status::protocol_error;
      break;
    }
    if (fin) {
      out.push_back({message_op_, std::move(message_)});
      message_.clear();
      message_op_ = -1;
    }
  }
  buf_.erase(0, at);
  return st;
}

bool topic_matches(std::string_view pattern, std::string_view topic) {
  return match_segs(segments(pattern), 0, segments(topic), 0);
}

}  // namespace dialtone::plugins::events
