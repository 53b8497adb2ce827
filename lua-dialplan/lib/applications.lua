-- Dialplan applications as Asterisk's CEL records them: an APP_START row
-- before the application runs and an APP_END row after it, `appname` the
-- application as Asterisk names it and `appdata` its argument (records.cel,
-- docs/admin/cel.md). The call core publishes them as calls.channel.app
-- (call:app_event); a caller who hangs up inside the application gets its
-- APP_END from records.cel with the channel's end.
--
--   applications.run(call, "Echo", "", function() return call:echo() end)
--
-- Without the call core (no channel module) the function just runs.
local M = {}

-- Runs fn(...) as the application `name` with argument `data` on `call`;
-- returns what fn returns.
function M.run(call, name, data, fn, ...)
  local mark = call.channel ~= nil and channel ~= nil and channel.app_event ~= nil
  data = data and tostring(data) or ""
  if mark then channel.app_event(call, "start", name, data) end
  local result = table.pack(fn(...))
  if mark then channel.app_event(call, "end", name, data) end
  return table.unpack(result, 1, result.n)
end

return M
