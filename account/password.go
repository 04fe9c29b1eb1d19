package account

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// The password rules (docs/ui.md, "Passwords"). Strength is judged by zxcvbn, which
// knows the common-password list, dictionary words, names, keyboard patterns,
// repetitions, sequences and dates, so "password1234" and twelve spaces fail while a
// passphrase of unrelated words passes; a home-made list of rules would do worse.
const (
	MinPasswordLen   = 12   // characters (not bytes)
	MaxPasswordBytes = 1024 // keeps hashing and strength checks bounded
	MinPasswordScore = 3    // zxcvbn score 0-4; 3 = "safely unguessable" (~10^8 guesses or more)

	// strengthWindow bounds zxcvbn's work, which grows faster than the length: it judges
	// the first 100 characters, as zxcvbn's authors recommend. A password whose first
	// 100 characters are strong is strong.
	strengthWindow = 100
)

// ErrWeakPassword wraps every refusal of CheckPassword.
var ErrWeakPassword = errors.New("password refused")

// CheckPassword returns why password may not be the password of the account name, or
// nil. The error says what to change.
func CheckPassword(name, password string) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrWeakPassword, fmt.Sprintf(format, args...))
	}
	if len(password) > MaxPasswordBytes {
		return refuse("it is longer than %d bytes", MaxPasswordBytes)
	}
	if !utf8.ValidString(password) {
		return refuse("it is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen {
		return refuse("it has %d characters; at least %d are needed", n, MinPasswordLen)
	}
	if strings.TrimFunc(password, unicode.IsSpace) == "" {
		return refuse("it is only spaces")
	}
	lower := strings.ToLower(password)
	for _, part := range nameParts(name) {
		if strings.Contains(lower, part) {
			return refuse("it contains the account name (%q)", part)
		}
	}
	window := password
	if utf8.RuneCountInString(window) > strengthWindow {
		window = string([]rune(window)[:strengthWindow])
	}
	// zxcvbn's repeat matcher misses repeated non-ASCII characters ("éééé…" scores 4),
	// so too few different characters are refused here.
	if distinct(window) < minDistinct {
		return refuse("it repeats characters (fewer than %d different ones)", minDistinct)
	}
	res := zxcvbn.PasswordStrength(window, append(nameParts(name), "irm", "insider", "risk", "management", "admin", "contoso"))
	if res.Score < MinPasswordScore {
		return refuse("it is too easy to guess (strength %d of 4, at least %d needed%s); use several unrelated words, or leave the password empty to get a random one",
			res.Score, MinPasswordScore, weakness(res))
	}
	return nil
}

const minDistinct = 5

func distinct(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// nameParts returns the account name and, for names like "ann.smith@contoso.com", its
// parts of three or more characters, lower-cased: a password containing any of them is
// refused (shorter parts would refuse too much by chance).
func nameParts(name string) []string {
	name = strings.ToLower(strings.TrimSpace(name))
	var out []string
	if len(name) >= 3 {
		out = append(out, name)
	}
	for _, p := range strings.FieldsFunc(name, func(r rune) bool { return strings.ContainsRune(".@_-", r) }) {
		if len(p) >= 3 && p != name {
			out = append(out, p)
		}
	}
	return out
}

// weakness names the first pattern that makes the password guessable, in words.
func weakness(res zxcvbn.Result) string {
	for _, m := range res.Sequence {
		switch m.Pattern {
		case "dictionary":
			switch m.DictionaryName {
			case "passwords":
				return "; it is or contains a common password"
			case "user_inputs":
				return "; it contains the account name or the product's name"
			case "male_names", "female_names", "surnames":
				return "; it is mostly a name"
			default:
				return "; it is mostly a common word"
			}
		case "repeat":
			return "; it repeats characters"
		case "sequence":
			return "; it contains a sequence like abcd or 1234"
		case "spatial":
			return "; it contains a keyboard pattern like qwerty"
		case "date":
			return "; it contains a date"
		}
	}
	return ""
}
