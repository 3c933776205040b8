-- wrk script of scripts/harness (load, soak): counts the responses by HTTP
-- status in every wrk thread and prints them after the run as one line,
--   statuses: 200=123456 503=2
-- (wrk's own "Non-2xx or 3xx responses" line counts only statuses above 399.)
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for code, n in pairs(s) do
        total[code] = (total[code] or 0) + n
      end
    end
  end
  local codes = {}
  for code in pairs(total) do
    table.insert(codes, code)
  end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do
    table.insert(parts, code .. "=" .. total[code])
  end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
