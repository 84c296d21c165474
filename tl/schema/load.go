package schema

import (
	"fmt"
	"os"
	"path/filepath"
)

// Load reads, parses (ParseAuto, positions use the base name) and resolves
// the files, without the prelude.
func Load(paths ...string) (*Schema, error) {
	return load(false, paths)
}

// LoadWithPrelude is Load with Prelude() resolved first.
func LoadWithPrelude(paths ...string) (*Schema, error) {
	return load(true, paths)
}

func load(prelude bool, paths []string) (*Schema, error) {
	files := make([]*File, 0, len(paths)+1)
	if prelude {
		files = append(files, Prelude())
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		f, err := ParseAuto(filepath.Base(p), src)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return Resolve(files...)
}
