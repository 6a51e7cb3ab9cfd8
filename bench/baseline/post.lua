-- wrk script of bench/graphql.py: POSTs a JSON body read from a file.
-- Arguments after "--": <body file> <bearer token> <unique prefix>. When the body holds "@N@",
-- each request replaces it with "<prefix>-<counter>", so every request sends fresh addresses.
local fixed, template, prefix
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  prefix = args[3]
  if body:find("@N@", 1, true) then
    template = body
  else
    fixed = wrk.format(nil, nil, nil, body)
  end
end

function request()
  if fixed then
    return fixed
  end
  counter = counter + 1
  local body = template:gsub("@N@", prefix .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
