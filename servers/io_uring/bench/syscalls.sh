#!/bin/bash
# syscalls per request: perf stat counts every syscall of the server (all threads) while
# `lab load` sends exactly N requests over 100 connections.
L=${LAB:-target/release/lab}
N=${N:-100000}
for model in epoll io_uring epoll io_uring; do
  $L serve --model $model --loops 1 --addr 127.0.0.1:0 > /tmp/srv.$model.out 2>&1 & SP=$!
  sleep 0.5; A=$(head -1 /tmp/srv.$model.out | sed 's|listening on http://||')
  r0=$(curl -s http://$A/_status | grep -o '"requests":[0-9]*' | cut -d: -f2)
  perf stat -e raw_syscalls:sys_enter -p $SP -o /tmp/perf.$model.txt -- sleep 30 & PP=$!
  sleep 0.5
  $L load http://$A/ -c ${C:-100} --requests $N ${PIPE:+--pipeline $PIPE} > /tmp/load.$model.txt 2>&1
  r1=$(curl -s http://$A/_status | grep -o '"requests":[0-9]*' | cut -d: -f2)
  kill -INT $PP; wait $PP 2>/dev/null
  sc=$(grep raw_syscalls /tmp/perf.$model.txt | awk '{gsub(",","",$1); print $1}')
  echo "$model requests=$((r1-r0-1)) syscalls=$sc per_request=$(python3 -c "print(round($sc/($r1-$r0-1),3))")"
  kill $SP; wait $SP 2>/dev/null
done
