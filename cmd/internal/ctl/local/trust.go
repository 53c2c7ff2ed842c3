package local

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"onepass/cmd/internal/ctl"
	"os"
	"path/filepath"
	"strings"

	"onepass/cmd/internal/config"
	"onepass/kiosk/healthcode"
	"onepass/sync/store"
)

// trustCommand runs `onepassctl trust import FILE [--config FILE] [--data DIR]`: it checks a signed
// trust-list document against the root key pinned in the configuration ([trust] root), refuses one
// older than the list held, and stores it. The daemon reads the store at the next code, so it needs
// no restart; sync delivers later lists the same way.
func trustCommand(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return ctl.UsageError{Msg: "trust: the command is trust import FILE"}
	}
	fs := flag.NewFlagSet("trust import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "")
	data := fs.String("data", "", "")
	var file string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return ctl.UsageError{Msg: "trust import: " + err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			return ctl.UsageError{Msg: fmt.Sprintf("trust import: one file only (%q and %q)", file, fs.Arg(0))}
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		return ctl.UsageError{Msg: "trust import needs the trust-list document FILE"}
	}
	cfg, err := config.FromFlags(*cfgPath, *data)
	if err != nil {
		return err
	}
	root, err := cfg.Trust.RootKey()
	if err != nil {
		return err
	}
	if root == nil {
		return fmt.Errorf("no root key is pinned: set [trust] root in %s", cmp.Or(*cfgPath, config.DefaultPath))
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	list, err := healthcode.OpenDocument(doc, root)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(cfg.Data, "onepass.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	held, _, err := db.TrustList(ctx)
	if err != nil {
		return err
	}
	if err := list.CheckNewer(held); err != nil {
		return fmt.Errorf("%s: refused: %w", file, err)
	}
	if err := db.PutTrustList(ctx, list.Seq, doc); err != nil {
		if errors.Is(err, store.ErrRollback) {
			return fmt.Errorf("%s: refused: %w", file, err)
		}
		return err
	}
	ids := make([]string, len(list.Issuers))
	for i, is := range list.Issuers {
		ids[i] = is.ID
	}
	fmt.Fprintf(stdout, "trust list seq %d (issued %s) imported: %d issuers: %s\n", list.Seq,
		list.IssuedAt.UTC().Format("2006-01-02 15:04Z"), len(list.Issuers), strings.Join(ids, ", "))
	return nil
}
