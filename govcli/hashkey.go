package govcli

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qgov/qgov/identity"
)

func init() {
	register(command{
		Name:  "hash-key",
		Usage: "[--generate]",
		Short: "Prints the SHA-256 of a qgov API key for an api_key's sha256",
		Long: `
Reads a qgov API key from standard input (so it stays out of shell history)
and prints its hex SHA-256, the value of an api_key block's "sha256" option.
With --generate it creates a new random key instead and prints the key (shown
this once) followed by its hash.`,
		Build: func(cmd *cobra.Command) {
			cmd.Flags().Bool("generate", false, "Generate a new random key")
			cmd.RunE = runs(cmdHashKey)
		},
	})
}

func cmdHashKey(w io.Writer, fl flags) (int, error) {
	if fl.Bool("generate") {
		key := "qgov-" + rand.Text()
		fmt.Fprintf(w, "key:    %s\nsha256: %s\n", key, identity.HashKey(key))
		return ExitOK, nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	key := strings.TrimSpace(line)
	if key == "" {
		if err == nil {
			err = errors.New("empty input")
		}
		return ExitFailed, fmt.Errorf("reading the key from standard input: %w", err)
	}
	fmt.Fprintln(w, identity.HashKey(key))
	return ExitOK, nil
}
