package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestQuickSITsMatchesEncodingJSON: where quickSITs answers, it answers what encoding/json
// gives; it declines the shapes it does not handle.
func TestQuickSITsMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		in      string
		handled bool
	}{
		{`[]`, true},
		{`[ ]`, true},
		{`[{"SensitiveInfoTypeName":"Credit Card Number","Count":3,"Confidence":85}]`, true},
		{`[{"sensitiveinfotypename":"a"},{"SensitiveInformationTypeName":"b","Name":"c"}, {"SensitiveInfoTypeId":"d","x":{"y":[1,2]}}]`, true},
		{`[{"Name":"a","NAME":"b"}]`, true},
		{`[{"Name":null,"SensitiveInfoTypeId":"x"}]`, true},
		{`[{"Name":"caf\u00e9 \"q\""}]`, true},
		{"[{\"Name\":\"bad \xff utf8\"}]", true},
		{`[{}]`, true},
		{`null`, false},
		{`[null]`, false},
		{`[{"Name":3}]`, false},
		{`[{"Name":["a"]}]`, false},
		{`["a"]`, false},
		{`{"Name":"a"}`, false},
		{`[{"\u004eame":"a"}]`, false},
		{`[{"ſensitiveInfoTypeName":"a"}]`, false},
	}
	for _, c := range cases {
		got, ok := quickSITs([]byte(c.in))
		if ok != c.handled {
			t.Errorf("%s: handled = %v, want %v", c.in, ok, c.handled)
			continue
		}
		if !ok {
			continue
		}
		var want []auditSIT
		if err := json.Unmarshal([]byte(c.in), &want); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, encoding/json %+v", c.in, got, want)
		}
	}
}

func FuzzQuickSITs(f *testing.F) {
	f.Add(`[{"SensitiveInfoTypeName":"Credit Card Number","Count":3}]`)
	f.Add(`[{"name":"a"},{"NAME":null,"x":[{}]}]`)
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return // quickSITs sees validated values only
		}
		got, ok := quickSITs([]byte(in))
		if !ok {
			return
		}
		var want []auditSIT
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%q: handled, but encoding/json fails: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, encoding/json %+v", in, got, want)
		}
	})
}
