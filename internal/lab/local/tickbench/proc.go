package tickbench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrProc is wrapped by the errors about a /proc file that cannot be read
// as Linux writes it.
var ErrProc = errors.New("bad /proc file")

// userHZ is the unit of the CPU times in /proc/PID/stat: 1/100 s on
// every Linux architecture (USER_HZ, what getconf CLK_TCK prints).
const userHZ = 100

// procDir is where the process files are.
const procDir = "/proc"

// stat is what parseStat reads of /proc/PID/stat.
type stat struct {
	// PPID is the parent's process id.
	PPID int
	// CPU is the user and system CPU time of every thread of the process.
	CPU time.Duration
}

// parseStat reads /proc/PID/stat: "PID (COMM) STATE PPID ... UTIME STIME
// ...", where COMM may hold spaces and parentheses, so the fields are
// counted from the last ')'. UTIME and STIME are fields 14 and 15 (from
// 1), in units of 1/userHZ s.
func parseStat(data []byte) (stat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("%w: stat %.60q has no (COMM)", ErrProc, data)
	}
	// Field 3 (STATE) onwards.
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return stat{}, fmt.Errorf("%w: stat has %d fields after (COMM), want at least 13", ErrProc, len(f))
	}
	var (
		s   stat
		err error
	)
	if s.PPID, err = strconv.Atoi(f[1]); err != nil {
		return stat{}, fmt.Errorf("%w: stat ppid %q", ErrProc, f[1])
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return stat{}, fmt.Errorf("%w: stat CPU time %q", ErrProc, v)
		}
		ticks += n
	}
	s.CPU = time.Duration(ticks) * (time.Second / userHZ)
	return s, nil
}

// parsePeakRSS reads the VmHWM line of /proc/PID/status, the peak resident
// set size since the process started or since its peak was reset
// (resetPeak), and returns it in bytes.
func parsePeakRSS(data []byte) (int64, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok {
			return 0, fmt.Errorf("%w: status VmHWM %q is not in kB", ErrProc, strings.TrimSpace(v))
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: status VmHWM %q", ErrProc, strings.TrimSpace(v))
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: status has no VmHWM line", ErrProc)
}

// readStat reads the stat of process pid.
func readStat(pid int) (stat, error) {
	data, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return stat{}, fmt.Errorf("tickbench: process %d: %w", pid, err)
	}
	s, err := parseStat(data)
	if err != nil {
		return stat{}, fmt.Errorf("tickbench: process %d: %w", pid, err)
	}
	return s, nil
}

// readPeakRSS reads the peak resident set size of process pid, in bytes.
func readPeakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("tickbench: process %d: %w", pid, err)
	}
	n, err := parsePeakRSS(data)
	if err != nil {
		return 0, fmt.Errorf("tickbench: process %d: %w", pid, err)
	}
	return n, nil
}

// resetPeak sets the peak resident set size of process pid (VmHWM) to its
// current one, so that the next readPeakRSS is the peak from now on.
func resetPeak(pid int) error {
	if err := os.WriteFile(filepath.Join(procDir, strconv.Itoa(pid), "clear_refs"), []byte("5"), 0); err != nil {
		return fmt.Errorf("tickbench: reset the peak memory of process %d: %w", pid, err)
	}
	return nil
}

// childOf returns the one process whose parent is ppid: the function's
// runtime, whose parent is the emulator. It fails when there is none or
// more than one.
func childOf(ppid int) (int, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return 0, fmt.Errorf("tickbench: list processes: %w", err)
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readStat(pid)
		if err != nil {
			continue // it exited since the listing, or is not ours to read
		}
		if s.PPID == ppid {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("tickbench: the emulator (process %d) has %d child processes %v, want 1: its runtime", ppid, len(found), found)
	}
	return found[0], nil
}

// Load is the 1-minute load average of the machine (/proc/loadavg), or -1
// when it cannot be read.
func Load() float64 {
	data, err := os.ReadFile(filepath.Join(procDir, "loadavg"))
	if err != nil {
		return -1
	}
	load, err := parseLoad(data)
	if err != nil {
		return -1
	}
	return load
}

// parseLoad reads the first field of /proc/loadavg, "1.23 0.98 0.75 2/345 6789".
func parseLoad(data []byte) (float64, error) {
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("%w: loadavg is empty", ErrProc)
	}
	load, err := strconv.ParseFloat(f[0], 64)
	if err != nil || load < 0 {
		return 0, fmt.Errorf("%w: loadavg %q", ErrProc, f[0])
	}
	return load, nil
}
