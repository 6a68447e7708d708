module github.com/yutopp/go-rtmp

go 1.13

require (
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-multierror v1.1.0
	github.com/mitchellh/mapstructure v1.4.1
	github.com/pkg/errors v0.9.1
	github.com/sirupsen/logrus v1.7.0
	github.com/yutopp/go-amf0 v0.1.0
	github.com/yutopp/go-flv v0.3.1
	golang.org/x/sys v0.3.0 // indirect
)
