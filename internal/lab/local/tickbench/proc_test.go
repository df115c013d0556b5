package tickbench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		data string
		want stat
	}{
		{"plain", "3280 (bootstrap) S 3277 3277 29137 0 -1 4194304 100 0 0 0 123 45 0 0 20 0 9 0 1866002 3133440 360\n",
			stat{PPID: 3277, CPU: 1680 * time.Millisecond}},
		// COMM is whatever the program named itself: spaces and parentheses.
		{"odd comm", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 2 3 0 0 20 0 1 0 5 6 7",
			stat{PPID: 1, CPU: 50 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.data))
			if err != nil {
				t.Fatalf("parseStat: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseStat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatRejects(t *testing.T) {
	for name, data := range map[string]string{
		"no comm":         "3280 bootstrap S 3277",
		"short":           "3280 (bootstrap) S 3277 3277 29137 0 -1 4194304 100 0 0 0 123",
		"bad ppid":        "3280 (bootstrap) S x 3277 29137 0 -1 4194304 100 0 0 0 123 45 0",
		"negative utime":  "3280 (bootstrap) S 1 3277 29137 0 -1 4194304 100 0 0 0 -5 45 0",
		"utime not a num": "3280 (bootstrap) S 1 3277 29137 0 -1 4194304 100 0 0 0 1.5 45 0",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseStat([]byte(data)); !errors.Is(err, ErrProc) {
				t.Errorf("parseStat(%q) = %v, want ErrProc", data, err)
			}
		})
	}
}

func TestParsePeakRSS(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "status"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePeakRSS(data)
	if err != nil {
		t.Fatalf("parsePeakRSS: %v", err)
	}
	if want := int64(1676 << 10); got != want {
		t.Errorf("parsePeakRSS = %d, want %d (VmHWM 1676 kB)", got, want)
	}
	for name, bad := range map[string]string{
		"no VmHWM":   "Name:\tcat\nVmRSS:\t 12 kB\n",
		"not kB":     "VmHWM:\t 12 MB\n",
		"not number": "VmHWM:\t x kB\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parsePeakRSS([]byte(bad)); !errors.Is(err, ErrProc) {
				t.Errorf("parsePeakRSS(%q) = %v, want ErrProc", bad, err)
			}
		})
	}
}

func TestParseLoad(t *testing.T) {
	got, err := parseLoad([]byte("13.09 7.06 4.89 18/176 3282\n"))
	if err != nil || got != 13.09 {
		t.Errorf("parseLoad = %v, %v; want 13.09", got, err)
	}
	for _, bad := range []string{"", "x 1 2", "-1 0 0"} {
		if _, err := parseLoad([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("parseLoad(%q) = %v, want ErrProc", bad, err)
		}
	}
}

// TestChildOfReadsProc reads a real child process: childOf finds it under
// this process, readStat and readPeakRSS read it, and resetPeak is allowed.
func TestChildOfReadsProc(t *testing.T) {
	cmd := exec.Command("cat") // waits on its stdin until the test ends
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	pid, err := childOf(os.Getpid())
	if err != nil {
		t.Fatalf("childOf: %v", err)
	}
	if pid != cmd.Process.Pid {
		t.Errorf("childOf = %d, want the child %d", pid, cmd.Process.Pid)
	}
	if err := resetPeak(pid); err != nil {
		t.Errorf("resetPeak: %v", err)
	}
	if rss, err := readPeakRSS(pid); err != nil || rss <= 0 {
		t.Errorf("readPeakRSS = %d, %v; want a positive size", rss, err)
	}
	if _, err := readStat(pid); err != nil {
		t.Errorf("readStat: %v", err)
	}
	if _, err := childOf(pid); err == nil {
		t.Errorf("childOf(%d) of a process with no child: no error", pid)
	}
}
