package ftps

import (
	"fmt"

	"thecure/appliance/config"
)

// folder returns a library folder's rules in force: the last reload's, else
// New's.
func (s *Server) folder(name string) (config.Folder, bool) {
	m := s.folders
	if p := s.liveFolders.Load(); p != nil {
		m = *p
	}
	f, ok := m[name]
	return f, ok
}

// LiveKeys are the [ftp] keys Reload applies.
func (s *Server) LiveKeys() []string { return []string{"ftp.folders"} }

// Reload applies new read and write groups of the library folders to every
// session, logged in or not, from its next command; running transfers go
// on. The folders themselves (names, kinds, order) need a restart: Reload
// refuses a change of them and nothing changes.
func (s *Server) Reload(cfg *config.Config) error {
	fs := cfg.FTP.Folders
	if len(fs) != len(s.order) {
		return fmt.Errorf("ftp.folders: %d folders instead of %d: adding or removing folders needs a restart", len(fs), len(s.order))
	}
	m := make(map[string]config.Folder, len(fs))
	for i, f := range fs {
		old := s.folders[s.order[i]]
		if f.Name != old.Name || f.Kind != old.Kind {
			return fmt.Errorf("ftp.folders[%d]: %s (%s) instead of %s (%s): renaming a folder or changing its kind needs a restart",
				i, f.Name, f.Kind, old.Name, old.Kind)
		}
		m[f.Name] = f
	}
	s.liveFolders.Store(&m)
	s.log.Info("ftps: new folder rights in force", "folders", len(m))
	return nil
}
