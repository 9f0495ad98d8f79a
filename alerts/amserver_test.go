package alerts

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/internal/testserver"
)

// amServer is a real prometheus-alertmanager process on a loopback port,
// restartable on the same port and data directory for outage tests.
type amServer struct {
	URL  string
	t    *testing.T
	bin  string
	addr string
	dir  string
	cmd  *exec.Cmd
	exit chan struct{}
}

func startAlertmanager(t *testing.T, cfgYAML string) *amServer {
	t.Helper()
	bin := testserver.LookBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &amServer{t: t, bin: bin, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))}
	s.URL = "http://" + s.addr
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its port and data directory.
func (s *amServer) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin,
		"--config.file="+filepath.Join(s.dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(s.dir, "data"),
		"--web.listen-address="+s.addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting alertmanager: %v", err)
	}
	s.cmd = cmd
	s.exit = make(chan struct{})
	go func(exit chan struct{}) { _ = cmd.Wait(); close(exit) }(s.exit)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.exit:
			s.cmd = nil
			s.t.Fatalf("alertmanager exited during start-up")
		case <-ctx.Done():
			s.Stop()
			s.t.Fatalf("alertmanager not ready on %s: %v", s.addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it to exit.
func (s *amServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.cmd = nil
}
