#include "online_recording.h"

#include <dialtone/json.h>
#include <dialtone/presence.h>

namespace dialtone::plugins::media {

void OnlineRecording::forget_ended() {
  auto engine = engine_();
  for (auto it = pressers_.begin(); it != pressers_.end();)
    it = engine && engine->channel_endpoint(it->first) ? std::next(it) : pressers_.erase(it);
  for (auto it = calls_.begin(); it != calls_.end();)
    it = engine && engine->channel_endpoint(it->first) ? std::next(it) : calls_.erase(it);
}

void OnlineRecording::allow(const std::vector<std::string>& pressers, const std::string& recorded,
                            const std::string& call_id, const std::string& code) {
  std::lock_guard lk(m_);
  forget_ended();
  auto& call = calls_[recorded];
  call.call_id = call_id;
  call.code = code;
  for (auto& p : pressers) pressers_[p] = Presser{recorded, {}, {}};
}

bool OnlineRecording::recording(const std::string& recorded) const {
  std::lock_guard lk(m_);
  auto it = calls_.find(recorded);
  return it != calls_.end() && it->second.on;
}

void OnlineRecording::digit(const std::string& channel, char digit) {
  std::shared_ptr<sdk::media::Endpoint> endpoint;
  std::filesystem::path file;
  bool start = false;
  std::string call_id, recorded;
  std::vector<sdk::json::Value> channels;
  {
    std::lock_guard lk(m_);
    auto p = pressers_.find(channel);
    if (p == pressers_.end()) return;
    auto c = calls_.find(p->second.recorded);
    if (c == calls_.end()) return;
    auto now = std::chrono::steady_clock::now();
    auto& typed = p->second.typed;
    if (now - p->second.last > kDigitGap) typed.clear();
    p->second.last = now;
    typed.push_back(digit);
    auto& code = c->second.code;
    if (typed.size() > code.size()) typed.erase(0, typed.size() - code.size());
    if (typed != code) return;
    typed.clear();
    auto engine = engine_();
    endpoint = engine ? engine->channel_endpoint(c->first) : nullptr;
    if (!endpoint) return;
    call_id = c->second.call_id;
    start = !c->second.on;
    if (start) {
      auto rec = recordings_();
      if (!rec) {
        if (log_) log_->warn("call " + call_id + ": " + code + " pressed but media.engine has no recordings.path; not recorded");
        return;
      }
      file = rec->new_file(call_id);
    }
    c->second.on = start;
    recorded = c->first;
    channels.emplace_back(recorded);
    for (auto& [ch, presser] : pressers_)
      if (presser.recorded == recorded && ch != recorded) channels.emplace_back(ch);
  }
  if (publish_)
    publish_(std::string(start ? sdk::kOnlineRecordingStarted : sdk::kOnlineRecordingStopped),
             sdk::json::object({{"call_id", call_id},
                                {"recorded", recorded},
                                {"channels", sdk::json::Raw{sdk::json::array(channels)}},
                                {"by", channel}}));
  if (start) {
    endpoint->record_call(file);
    if (log_) log_->info("call " + call_id + ": online recording to " + file.string() + " (by " + channel + ")");
  } else {
    endpoint->stop_call_recording();
    if (log_) log_->info("call " + call_id + ": online recording stopped (by " + channel + ")");
  }
}

}  // namespace dialtone::plugins::media
