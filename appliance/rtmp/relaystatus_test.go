package rtmp

import "testing"

// The URL shown on /admin hides the stream key, passwords and query values.
func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://edge/live/cam":                                "rtmp://edge/live/****",
		"rtmp://a.rtmp.youtube.com:1935/live2/abcd-efgh-ijkl": "rtmp://a.rtmp.youtube.com:1935/live2/****",
		"rtmp://origin/live/cam?key=PULLSECRET&x=1":           "rtmp://origin/live/****?key=****&x=****",
		"rtmp://user:pa55@origin/app/k":                       "rtmp://user:****@origin/app/****",
		"rtmp://edge/live":                                    "rtmp://edge/live",
		"not a url at all %zz":                                "****",
	} {
		if got := maskURL(in); got != want {
			t.Errorf("maskURL(%q) = %q, want %q", in, got, want)
		}
	}
}
