# Shared by the bench-* scripts (sourced, not run): timing helpers.
# shellcheck shell=bash

# Nanoseconds since the epoch.
ms() { date +%s%N; }

# The median of the nanosecond figures on stdin, in whole milliseconds.
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m/1e6}'; }
