# shellcheck shell=bash
# Sourced by scripts/bench: one measurement run (measure_load, measure_idle) and what they read
# from /proc and ss. Each run appends a line to $results. Uses the script's globals.

clock_ticks=$(getconf CLK_TCK)
# A test is keepalive, full, resumed or idle, with a scaling case after a dash: keepalive-i10,
# full-k100, resumed-w2, idle-large (idle-large measures the usual instances).
base_test() { echo "${1%%-*}"; }
# An instance is a server as one test meets it: SERVER for the [resumption on] instance,
# SERVER-noresume for the [resumption off] one, which serves only the full-handshake tests; the
# scaling rows' are SERVER-CASE and SERVER-CASE-noresume.
instance_of() {  # instance_of SERVER TEST
  local base instance=$1
  base=$(base_test "$2")
  if [[ $base != idle && $2 == *-* ]]; then instance+="-${2#*-}"; fi
  if [[ $base == full ]]; then instance+=-noresume; fi
  echo "$instance"
}
label_of() {  # label_of INSTANCE: its name in the table
  local server=${1%-noresume}
  server=${server%-[ikw][0-9]*}
  if [[ $1 == *-noresume ]]; then echo "$server [resumption off]"; else echo "$server [resumption on]"; fi
}
case_of() {  # case_of INSTANCE: its scaling case (i10, i100, k100, w2), or nothing
  local name=${1%-noresume}
  if [[ $name =~ -([ikw][0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; fi
}
process_of() {  # process_of INSTANCE: the gateway process or nginx instance serving it
  local case
  case=$(case_of "$1")
  case $1 in
    gateway*) echo "$1" ;;
    nginx-*) if [[ -n $case ]]; then echo "nginx-$case"; else echo nginx; fi ;;
  esac
}
port_of() {  # port_of INSTANCE
  local case ports
  case=$(case_of "$1")
  case $1 in
    gateway*) echo "${gateway_listen[$1]}" ;;
    nginx-static-*)  # nginx-static-noresume, nginx-static-CASE, nginx-static-CASE-noresume
      if [[ -z $case ]]; then echo "$static_full_port"; return; fi
      read -r -a ports <<<"${scale_ports[$case]}"
      if [[ $1 == *-noresume ]]; then echo "${ports[1]}"; else echo "${ports[0]}"; fi ;;
    nginx-static) echo "$static_port" ;;
    nginx-proxy) echo "$proxy_port" ;;
    nginx-proxy-noresume) echo "$proxy_full_port" ;;
  esac
}
path_of() {  # path_of INSTANCE: what the load asks for (the last issuer's JWKS with several)
  local case
  case=$(case_of "$1")
  if [[ $case == i* ]]; then echo "/$case$jwks_path"; else echo "$jwks_path"; fi
}
on_load_cpu() {  # on_load_cpu INSTANCE COMMAND...: on CPU 1, or anywhere for the two-worker rows
  local instance=$1
  shift
  if unpinned "$instance"; then "$@"; else taskset -c 1 "$@"; fi
}
server_pids() {  # server_pids INSTANCE: its processes (nginx: master and its children)
  local process pid
  process=$(process_of "$1")
  pid=${pid_of[$process]:-}
  [[ -n $pid ]] || { echo "bench: $process is not running" >&2; exit 1; }
  case $process in
    gateway*) echo "$pid" ;;
    nginx*) echo "$pid" $(pgrep -P "$pid" || true) ;;
  esac
}
cpu_ticks() {  # utime+stime of every process of INSTANCE, all threads; plus reaped children's
  local total=0 pid fields
  for pid in $(server_pids "$1"); do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # After "comm) ": state is field 1, utime 12, stime 13, cutime 14, cstime 15.
    total=$((total + $(echo "$fields" | awk '{print $12 + $13 + $14 + $15}')))
  done
  echo "$total"
}
rss_kib() {
  local total=0 pid
  for pid in $(server_pids "$1"); do
    total=$((total + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
established_on() {  # TCP connections established to 127.0.0.1:PORT
  ss -Htn state established "( sport = :$1 )" | wc -l
}
open_on() {  # ... and those the client closed that the server has not closed yet
  ss -Htn state established state close-wait "( sport = :$1 )" | wc -l
}
to_us() {  # wrk's "123.45us" / "1.20ms" / "1.00s" in microseconds
  awk -v t="$1" 'BEGIN {
    v = t + 0
    if (t ~ /us$/) f = 1; else if (t ~ /ms$/) f = 1000; else if (t ~ /s$/) f = 1000000; else f = 1
    printf "%.0f", v * f }'
}

# One line per run: round test server req/s req-per-CPU-s p50_us p99_us rss-KiB-per-conn
# resumed-% tickets-per-conn note
results=$work/results.tsv
: >"$results"

measure_load() {  # measure_load ROUND TEST SERVER
  local round=$1 test=$2 server=$3 base instance label port path authority output before after
  local requests rps p50 p99 errors note
  base=$(base_test "$test")
  instance=$(instance_of "$server" "$test")
  label=$(label_of "$instance")
  port=$(port_of "$instance")
  path=$(path_of "$instance")
  authority=$(authority_for "$port")
  before=$(cpu_ticks "$instance")
  if [[ $base == keepalive ]]; then
    output=$(on_load_cpu "$instance" wrk -t1 -c"$wrk_connections" -d"${seconds}s" --latency \
      -H "Host: $authority" "https://127.0.0.1:$port$path")
  else
    local resume=--no-resume
    [[ $base == resumed ]] && resume=--resume
    output=$(on_load_cpu "$instance" "$tls_load" handshakes --connect "127.0.0.1:$port" \
      --host "$authority" --path "$path" --concurrency "$handshake_concurrency" \
      --seconds "$seconds" "$resume")
  fi
  after=$(cpu_ticks "$instance")
  echo "$output" >"run-$round-$test-$instance.txt"
  if [[ $base == keepalive ]]; then
    requests=$(echo "$output" | awk '/requests in/ {print $1; exit}')
    rps=$(echo "$output" | awk '/^Requests\/sec:/ {print $2}')
    p50=$(to_us "$(echo "$output" | awk '$1 == "50%" {print $2}')")
    p99=$(to_us "$(echo "$output" | awk '$1 == "99%" {print $2}')")
    errors=$(echo "$output" | awk '/Non-2xx/ {n += $NF} /Socket errors/ {
      gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END {print n + 0}')
    note="errors=$errors"
    resumed_pct=- tickets_per_conn=-
  else
    local reused tickets p50_us p99_us
    eval "$(echo "$output" | tr ' ' '\n' | grep -E '^(requests|errors|reused|tickets|rps|p50_us|p99_us)=')"
    p50=$p50_us p99=$p99_us
    note="errors=$errors reused=$reused tickets=$tickets"
    # Resumption on or off must be what the test says, for every connection but each slot's
    # first (which has no session yet).
    if [[ $base == full && $reused -ne 0 ]]; then
      echo "bench: $label resumed $reused handshakes in the full-handshake test ($test)" >&2
      exit 1
    fi
    if [[ $base == full && $tickets -ne 0 ]]; then
      echo "bench: $label sent $tickets session tickets in the full-handshake test ($test)" >&2
      exit 1
    fi
    if [[ $base == resumed && $reused -eq 0 ]]; then
      echo "bench: $label resumed none of $requests handshakes ($test)" >&2
      exit 1
    fi
    resumed_pct=$(awk -v r="$reused" -v n="$requests" 'BEGIN {printf "%.0f", 100 * r / n}')
    tickets_per_conn=$(awk -v t="$tickets" -v n="$requests" 'BEGIN {printf "%.2f", t / n}')
  fi
  if ((errors * 100 > requests)); then
    echo "bench: $label had $errors errors in $requests requests ($test)" >&2
    exit 1
  fi
  local cpu_s per_cpu
  cpu_s=$(awk -v t=$((after - before)) -v hz="$clock_ticks" 'BEGIN {printf "%.2f", t / hz}')
  per_cpu=$(awk -v r="$requests" -v t=$((after - before)) -v hz="$clock_ticks" \
    'BEGIN {if (t > 0) printf "%.0f", r / (t / hz); else print "nan"}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t%s\t%s\t%s cpu_s=%s\n' "$round" "$test" "$server" \
    "$rps" "$per_cpu" "$p50" "$p99" "$resumed_pct" "$tickets_per_conn" "$note" "$cpu_s" >>"$results"
  log "round $round $test $label: $rps req/s, $per_cpu req/CPU-s, p50 ${p50}us p99 ${p99}us ($note cpu_s=$cpu_s)"
}

measure_idle() {  # measure_idle ROUND SERVER [TEST CONNECTIONS]: TEST idle (default) or idle-large
  local round=$1 server=$2 test=${3:-idle} connections=${4:-$idle_connections}
  local instance label port before after held helper output per_connection
  instance=$(instance_of "$server" "$test")
  label=$(label_of "$instance")
  port=$(port_of "$instance")
  # A fresh server process: memory freed after an earlier test stays in the process (malloc,
  # nginx's pools) and would hide what the connections cost. Warmed up by a second of
  # handshakes and requests, so one-time allocations are in the baseline.
  case $server in
    gateway) stop_server "${pid_of[gateway]}"; start_gateway gateway ;;
    nginx-*) stop_server "${pid_of[nginx]}"; start_nginx ;;
  esac
  taskset -c 1 "$tls_load" handshakes --connect "127.0.0.1:$port" --host "$(authority_for "$port")" \
    --path "$jwks_path" --concurrency 4 --seconds 1 --no-resume >/dev/null
  sleep 0.5
  rm -f idle.ready
  before=$(rss_kib "$instance")
  # Opening them takes about a second per thousand here; bounded at 60 s plus 10 s a thousand.
  local bound=$((60 + connections / 100)) started=$SECONDS open_seconds
  taskset -c 1 "$tls_load" idle --connect "127.0.0.1:$port" --host "$(authority_for "$port")" \
    --path "$jwks_path" --connections "$connections" --hold-seconds $((bound + 60)) \
    --ready-file idle.ready >"$test-$round-$instance.txt" 2>&1 &
  helper=$!
  pids+=("$helper")
  for _ in $(seq $((bound * 20))); do
    [[ -s idle.ready ]] && break
    kill -0 "$helper" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s idle.ready ]] || { echo "bench: the idle connections to $label did not open" >&2; cat "$test-$round-$instance.txt" >&2; exit 1; }
  open_seconds=$((SECONDS - started))
  sleep 1  # let the server finish with the last ones
  after=$(rss_kib "$instance")
  held=$(established_on "$port")
  kill "$helper"
  wait "$helper" || true
  forget_pid "$helper"
  output=$(cat "$test-$round-$instance.txt")
  if ((held < connections)) || [[ $output != *"closed_by_server=0"* ]]; then
    echo "bench: $label held $held of $connections idle connections ($output)" >&2
    # Both close a connection idle for 120 s (timeouts.keep_alive, keepalive_timeout).
    if ((open_seconds >= 120)); then
      echo "bench: opening them took ${open_seconds} s, longer than the servers' 120 s keep-alive timeout: too many for this machine's handshake rate (--idle, --idle-large)" >&2
    fi
    exit 1
  fi
  per_connection=$(awk -v a="$after" -v b="$before" -v n="$connections" \
    'BEGIN {printf "%.2f", (a - b) / n}')
  printf '%s\t%s\t%s\t-\t-\t-\t-\t%s\t-\t-\tbefore_kib=%s after_kib=%s\n' "$round" "$test" "$server" \
    "$per_connection" "$before" "$after" >>"$results"
  log "round $round $test $label: $per_connection KiB per connection over $connections, opened in ${open_seconds} s (RSS $before -> $after KiB)"
  # Until the servers have closed them, the connections would count against the next test.
  for _ in $(seq 400); do
    (($(open_on "$port") == 0)) && break
    sleep 0.05
  done
}
