package events

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
)

// TestReadAnswer: what the engine writes (appendEvent, appendEvents) reads
// back as written, in every answer form; damaged answers are errors.
func TestReadAnswer(t *testing.T) {
	a := &event{id: 1, ts: 50, key: "carol", text: []byte("logout")}
	b := &event{id: 2, ts: 40, key: "erin", text: []byte("login")}
	want := []Event{{1, 50, "carol", "logout"}, {2, 40, "erin", "login"}}
	vec := appendEvents(nil, []*event{a, b})
	tests := []struct {
		name string
		in   []byte
		want []Event
		err  bool
	}{
		{"vector", vec, want, false},
		{"empty vector", appendEvents(nil, nil), []Event{}, false},
		{"nothing", tl.AppendUint32(nil, tl.TagMaybeFalse), []Event{}, false},
		{"just", appendEvent(tl.AppendUint32(nil, tl.TagMaybeTrue), a), want[:1], false},
		{"truncated", vec[:len(vec)-4], nil, true},
		{"trailing", append(append([]byte{}, vec...), 0, 0, 0, 0), nil, true},
		{"hostile count", tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), 1<<30), nil, true},
		{"wrong tag", tl.AppendUint32(nil, tl.TagBoolTrue), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadAnswer(tc.in)
			if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
	if _, _, err := ReadEvent(tl.AppendUint32(nil, TagEvent)); !errors.Is(err, tl.ErrTruncated) {
		t.Fatalf("short event: %v, want ErrTruncated", err)
	}
}
