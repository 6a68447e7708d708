package storage

import (
	"path/filepath"
)

type factoryDisk struct {
	dirPath string
}

// NewFactoryDisk allocates a disk-backed factory.
func NewFactoryDisk(dirPath string) Factory {
	return &factoryDisk{
		dirPath: dirPath,
	}
}

// NewFile implements Factory. A file that cannot be created (thecure: a
// read-only or broken file system) is kept in memory instead, as one that
// cannot be written is (fileDisk): the stream goes on.
func (s *factoryDisk) NewFile(fileName string) (File, error) {
	f, err := newFileDisk(filepath.Join(s.dirPath, fileName))
	if err != nil {
		return newFileRAM(), nil
	}
	return f, nil
}
