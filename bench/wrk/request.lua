-- wrk script for bench/run.sh: one request shape (method, headers, optional body), optionally
-- cycling through a list of paths; prints one machine-readable line at the end.
--
-- Environment (all optional):
--   BENCH_METHOD        GET (default), HEAD, POST, ...
--   BENCH_HEADERS_FILE  file of "Name: value" lines (Accept, Authorization, X-Amz-*, ...)
--   BENCH_BODY_FILE     request body (sent as is, Content-Length set by wrk)
--   BENCH_PATHS_FILE    one path per line; each connection cycles through them from its own offset
-- Output: a line "BENCHJSON {...}" with requests, duration, bytes, errors and latency percentiles (µs).

local method = os.getenv("BENCH_METHOD") or "GET"
local headers = {}
local body = nil
local paths = {}
local reqs = {}
local idx = 0

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local hf = os.getenv("BENCH_HEADERS_FILE")
if hf and hf ~= "" then
  for line in io.lines(hf) do
    local k, v = line:match("^([^:]+):%s*(.-)%s*$")
    if k then headers[k] = v end
  end
end
local bf = os.getenv("BENCH_BODY_FILE")
if bf and bf ~= "" then body = read_all(bf) end
local pf = os.getenv("BENCH_PATHS_FILE")
if pf and pf ~= "" then
  for line in io.lines(pf) do
    if line ~= "" then paths[#paths + 1] = line end
  end
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  if #paths == 0 then
    reqs[1] = wrk.format(method, nil, h, body)
  else
    for i, p in ipairs(paths) do reqs[i] = wrk.format(method, p, h, body) end
  end
  -- spread threads over the path list
  idx = ((thread_id or 1) - 1) * math.floor(#reqs / 4 + 1) % #reqs
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,' ..
    '"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
