// Command systemctl is a stand-in for systemd's systemctl in the flash tests' throwaway root, where
// systemd is not PID 1. It supervises the units named in /etc/fake-systemd/supervise the way
// systemd runs a Type=notify service: ExecStart as User=/Group= with UMask=, NOTIFY_SOCKET for
// READY=1, TimeoutStartSec=, Restart=on-failure after RestartSec=, and the properties flash.sh reads
// (ActiveState, SubState, MainPID, NRestarts, ActiveEnterTimestampMonotonic, ExecMainStatus,
// Result). `restart` returns once READY=1 arrived, or fails as systemctl does when the main process
// exits first. Other units only change state. enable/disable/is-enabled use the .wants symlinks.
//
// Built by scripts/flash_test.go (CGO_ENABLED=0) and copied over /usr/bin/systemctl in the root.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const stateRoot = "/run/fake-systemd"

var unitDirs = []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var props []string
	quiet, value := false, false
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-p" || a == "--property":
			i++
			if i < len(args) {
				props = append(props, strings.Split(args[i], ",")...)
			}
		case strings.HasPrefix(a, "--property="):
			props = append(props, strings.Split(strings.TrimPrefix(a, "--property="), ",")...)
		case a == "-n" || a == "--lines":
			i++
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "--value":
			value = true
		case strings.HasPrefix(a, "-"):
			// --no-pager, --no-block, --lines=N, …: nothing to do here.
		default:
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		fmt.Fprintln(os.Stderr, "systemctl stand-in: no command")
		return 1
	}
	cmd, units := words[0], words[1:]
	switch cmd {
	case "daemon-reload":
		return 0
	case "__supervise":
		return supervise(units[0])
	case "enable", "disable":
		for _, u := range units {
			if err := setEnabled(u, cmd == "enable"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	case "is-enabled":
		code := 0
		for _, u := range units {
			st := "disabled"
			if enabled(u) {
				st = "enabled"
			} else {
				code = 1
			}
			if !quiet {
				fmt.Println(st)
			}
		}
		return code
	case "is-active":
		code := 0
		for _, u := range units {
			st := read(u)["ActiveState"]
			if st != "active" {
				code = 3
			}
			if !quiet {
				fmt.Println(st)
			}
		}
		return code
	case "show":
		for _, u := range units {
			p := read(u)
			for _, k := range props {
				if value {
					fmt.Println(p[k])
				} else {
					fmt.Printf("%s=%s\n", k, p[k])
				}
			}
		}
		return 0
	case "status":
		code := 0
		for _, u := range units {
			p := read(u)
			fmt.Printf("● %s\n     Active: %s (%s) result %s, main PID %s, status %s, %s restarts\n",
				u, p["ActiveState"], p["SubState"], p["Result"], p["MainPID"], p["ExecMainStatus"], p["NRestarts"])
			if b, err := os.ReadFile(filepath.Join(stateRoot, u, "log")); err == nil {
				lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				fmt.Println(strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
			if p["ActiveState"] != "active" {
				code = 3
			}
		}
		return code
	case "stop":
		for _, u := range units {
			stop(u)
		}
		return 0
	case "start", "restart":
		code := 0
		for _, u := range units {
			if cmd == "start" && read(u)["ActiveState"] == "active" {
				continue
			}
			if err := start(u); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
		return code
	}
	fmt.Fprintf(os.Stderr, "systemctl stand-in: %s is not emulated\n", cmd)
	return 1
}

// read returns the unit's runtime properties (systemd's defaults for a unit never started).
func read(unit string) map[string]string {
	p := map[string]string{"ActiveState": "inactive", "SubState": "dead", "MainPID": "0", "NRestarts": "0",
		"ActiveEnterTimestampMonotonic": "0", "ExecMainStatus": "0", "Result": "success"}
	f, err := os.Open(filepath.Join(stateRoot, unit, "props"))
	if err != nil {
		return p
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			p[k] = v
		}
	}
	return p
}

// write replaces the unit's properties atomically (readers never see half a file).
func write(unit string, p map[string]string) {
	dir := filepath.Join(stateRoot, unit)
	os.MkdirAll(dir, 0o755)
	var b strings.Builder
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, p[k])
	}
	tmp := filepath.Join(dir, "props.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err == nil {
		os.Rename(tmp, filepath.Join(dir, "props"))
	}
}

func set(unit string, kv ...string) {
	p := read(unit)
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	write(unit, p)
}

func supervised(unit string) bool {
	b, _ := os.ReadFile("/etc/fake-systemd/supervise")
	return slices.Contains(strings.Fields(string(b)), unit)
}

// unitFile returns the [Service] and [Install] settings of the unit (last one wins, as in systemd).
func unitFile(unit string) (map[string]string, error) {
	for _, d := range unitDirs {
		b, err := os.ReadFile(filepath.Join(d, unit))
		if err != nil {
			continue
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
				m[k] = v
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("Unit %s not found.", unit)
}

func wantsLink(unit string) (string, error) {
	u, err := unitFile(unit)
	if err != nil {
		return "", err
	}
	target := u["WantedBy"]
	if target == "" {
		return "", fmt.Errorf("%s has no WantedBy", unit)
	}
	return filepath.Join("/etc/systemd/system", target+".wants", unit), nil
}

func setEnabled(unit string, on bool) error {
	link, err := wantsLink(unit)
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.Remove(link)
	return os.Symlink(filepath.Join("/usr/lib/systemd/system", unit), link)
}

func enabled(unit string) bool {
	link, err := wantsLink(unit)
	if err != nil {
		return false
	}
	_, err = os.Lstat(link)
	return err == nil
}

func supervisorPID(unit string) int {
	b, _ := os.ReadFile(filepath.Join(stateRoot, unit, "supervisor.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 && syscall.Kill(pid, 0) == nil {
		return pid
	}
	return 0
}

// stop ends the unit's supervisor (which stops the main process) and waits for it, as systemctl
// stop waits for the stop job.
func stop(unit string) {
	if !supervised(unit) {
		set(unit, "ActiveState", "inactive", "SubState", "dead", "MainPID", "0")
		return
	}
	pid := supervisorPID(unit)
	if pid == 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// start launches a supervisor for the unit and waits for the outcome of the start job.
func start(unit string) error {
	if !supervised(unit) {
		set(unit, "ActiveState", "active", "SubState", "running", "NRestarts", "0",
			"ActiveEnterTimestampMonotonic", strconv.FormatInt(monotonic(), 10))
		return nil
	}
	if _, err := unitFile(unit); err != nil {
		return err
	}
	stop(unit)
	// A manual start resets the restart counter, as in systemd.
	set(unit, "ActiveState", "activating", "SubState", "start", "NRestarts", "0", "Result", "success", "MainPID", "0")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir := filepath.Join(stateRoot, unit)
	log, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(self, "__supervise", unit)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, "supervisor.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	go cmd.Wait() // the supervisor outlives this command; reap it if it ends while we watch
	for {
		p := read(unit)
		switch {
		case p["ActiveState"] == "active":
			return nil
		case p["ActiveState"] == "failed" || p["SubState"] == "auto-restart" || p["ActiveState"] == "inactive":
			return fmt.Errorf("Job for %s failed because the control process exited with error code.\n"+
				"See \"systemctl status %s\" and \"journalctl -xeu %s\" for details.", unit, unit, unit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func monotonic() int64 {
	var ts unix.Timespec
	// In µs, as systemd reports it.
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Sec*1e6 + ts.Nsec/1e3
}

func seconds(s string, def time.Duration) time.Duration {
	s = strings.TrimSuffix(strings.TrimSpace(s), "s")
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	return def
}

// supervise runs the unit's main process until told to stop, restarting it as Restart= says.
func supervise(unit string) int {
	u, err := unitFile(unit)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	var stopping bool
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	dir := filepath.Join(stateRoot, unit)
	sock := filepath.Join(dir, "notify")
	os.Remove(sock)
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer notify.Close()
	os.Chmod(sock, 0o777)
	ready := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := notify.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
		}
	}()
	if m, err := strconv.ParseUint(u["UMask"], 8, 32); err == nil {
		syscall.Umask(int(m))
	}
	cred, err := credential(u["User"], u["Group"])
	if err != nil {
		fmt.Println(err)
		set(unit, "ActiveState", "failed", "SubState", "failed", "Result", "exit-code")
		return 1
	}
	restarts := 0
	for {
		argv := strings.Fields(strings.TrimLeft(u["ExecStart"], "-@+!:"))
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		select {
		case <-ready: // a stale READY from the previous process does not count
		default:
		}
		if err := cmd.Start(); err != nil {
			fmt.Println(err)
			set(unit, "ActiveState", "failed", "SubState", "failed", "Result", "exit-code", "ExecMainStatus", "203")
			return 1
		}
		set(unit, "MainPID", strconv.Itoa(cmd.Process.Pid))
		exited := make(chan int, 1)
		go func() {
			cmd.Wait()
			exited <- cmd.ProcessState.ExitCode()
		}()
		started := true
		timeout := time.After(seconds(u["TimeoutStartSec"], 90*time.Second))
		code := 0
	wait:
		for {
			select {
			case <-ready:
				if u["Type"] == "notify" && started {
					set(unit, "ActiveState", "active", "SubState", "running",
						"ActiveEnterTimestampMonotonic", strconv.FormatInt(monotonic(), 10))
					started = false
				}
			case <-timeout:
				if started {
					fmt.Println("start operation timed out; terminating")
					cmd.Process.Signal(syscall.SIGTERM)
				}
			case <-term:
				stopping = true
				set(unit, "ActiveState", "deactivating", "SubState", "stop-sigterm")
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case code = <-exited:
				case <-time.After(seconds(u["TimeoutStopSec"], 90*time.Second)):
					cmd.Process.Kill()
					code = <-exited
				}
				break wait
			case code = <-exited:
				break wait
			}
		}
		set(unit, "ExecMainStatus", strconv.Itoa(max(code, 0)), "MainPID", "0")
		if stopping {
			set(unit, "ActiveState", "inactive", "SubState", "dead")
			return 0
		}
		fmt.Printf("%s: main process exited, status=%d\n", unit, code)
		if code == 0 || u["Restart"] != "on-failure" && u["Restart"] != "always" {
			state := "inactive"
			if code != 0 {
				state = "failed"
			}
			set(unit, "ActiveState", state, "SubState", map[string]string{"inactive": "dead", "failed": "failed"}[state], "Result", "exit-code")
			return 0
		}
		restarts++
		set(unit, "ActiveState", "activating", "SubState", "auto-restart", "Result", "exit-code")
		select {
		case <-time.After(seconds(u["RestartSec"], 100*time.Millisecond)):
		case <-term:
			set(unit, "ActiveState", "failed", "SubState", "failed")
			return 0
		}
		set(unit, "SubState", "start", "NRestarts", strconv.Itoa(restarts))
	}
}

// credential is the User=/Group= of the unit with the user's supplementary groups, as systemd sets
// them (initgroups).
func credential(name, group string) (*syscall.Credential, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	var groups []uint32
	ids, _ := u.GroupIds()
	for _, s := range ids {
		n, _ := strconv.Atoi(s)
		groups = append(groups, uint32(n))
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
