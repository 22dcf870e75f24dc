//go:build linux

package report

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReportInBrowser loads a rendered report in headless Chromium and
// checks what the browser made of it: the DOM it built and the pixels it
// painted.
func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	res := pairedResults(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(page, []byte(render(t, fullData(res))), 0o600))
	url := "file://" + page

	t.Run("dom", func(t *testing.T) {
		dom := runChromium(t, bin, "--dump-dom", url)
		root := parse(t, string(dom))
		verdict := byID(root, "verdict")
		require.NotNil(t, verdict, "the browser's DOM has the verdict")
		assert.Contains(t, text(verdict), "Verdict: PASS — the candidate met every criterion")
		assert.Contains(t, text(verdict), res.Verdict.Checks[0].Reason)
		svgs := elements(root, "svg")
		require.Len(t, svgs, 1+len(res.Costs), "one chart for series, one per price model")
		for _, svg := range svgs {
			lines := elements(svg, "polyline")
			require.Len(t, lines, 2, "a line per variant")
			for _, l := range lines {
				assert.NotEmpty(t, attr(l, "points"))
			}
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "report.png")
		runChromium(t, bin, "--hide-scrollbars", "--window-size=1100,4200", "--screenshot="+shot, url)
		f, err := os.Open(shot)
		require.NoError(t, err)
		defer f.Close()
		img, err := png.Decode(f)
		require.NoError(t, err)
		assert.Equal(t, 1100, img.Bounds().Dx())
		// Both variants' lines, markers and legends were painted.
		for variant, color := range variantColors {
			assert.Greater(t, countColor(img, color), 200, "%s pixels (%s)", variant, color)
		}
	})
}

// chromium finds the browser or fails, saying how to install it.
func chromium(t *testing.T) string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err != nil {
		t.Fatalf("headless Chromium is required for this test and was not found (%s): install it with `apt-get install -y chromium`", debian)
	}
	return debian
}

// runChromium runs one headless Chromium command with its own profile,
// bounded in time, and kills its whole process group afterwards so no
// helper process outlives the test.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Errorf("killing chromium's process group: %v", kerr)
		}
	}
	require.NoError(t, err, "chromium %s\nstderr (tail): %s", strings.Join(args, " "), tail(stderr.String(), 2000))
	waitGone(t, profile)
	return stdout.Bytes()
}

// waitGone checks that no process still runs with the test's profile
// directory, giving killed processes a moment to be reaped.
func waitGone(t *testing.T, profile string) {
	t.Helper()
	var left []string
	for range 50 {
		left = processesUsing(profile)
		if len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("chromium processes left behind: %v", left)
}

func processesUsing(needle string) []string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, path := range cmdlines {
		raw, err := os.ReadFile(path)
		if err == nil && bytes.Contains(raw, []byte(needle)) {
			pids = append(pids, filepath.Base(filepath.Dir(path)))
		}
	}
	return pids
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// countColor counts the pixels of exactly the colour hex ("#rrggbb").
func countColor(img image.Image, hex string) int {
	var want [3]uint32
	for i := range want {
		var v uint32
		for _, c := range hex[1+2*i : 3+2*i] {
			v = v*16 + uint32(strings.IndexRune("0123456789abcdef", c))
		}
		want[i] = v
	}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == want[0] && g>>8 == want[1] && bl>>8 == want[2] {
				n++
			}
		}
	}
	return n
}
