package cli

import (
	"github.com/spf13/pflag"

	"github.com/vpo-project/vpo/internal/config"
)

// settingValue is the flag of a setting in config's table. Set checks the value's
// syntax (a bad one is a usage error, exit 2, naming what is allowed) and keeps its
// text; config.Load applies it as the strongest source.
type settingValue struct {
	spec config.Spec
	text string
}

func (v *settingValue) String() string { return v.text }
func (v *settingValue) Type() string   { return v.spec.FlagType() }
func (v *settingValue) Set(s string) error {
	if err := v.spec.ParseFlag(s); err != nil {
		return err
	}
	v.text = s
	return nil
}

// settingFlags are the flags of the settings table, bound to one command.
type settingFlags struct {
	fs     *pflag.FlagSet
	values []*settingValue
}

// addSettingFlags binds a flag for every setting of the table that has one.
func addSettingFlags(fs *pflag.FlagSet) *settingFlags {
	sf := &settingFlags{fs: fs}
	for _, s := range config.Specs() {
		if s.Flag == "" {
			continue
		}
		v := &settingValue{spec: s, text: s.DefaultText()}
		f := fs.VarPF(v, s.Flag, s.Short, s.Doc)
		if s.Kind == config.KindBool {
			f.NoOptDefVal = "true"
		}
		sf.values = append(sf.values, v)
	}
	return sf
}

// apply records in flags the setting flags given on the command line.
func (sf *settingFlags) apply(flags *config.Flags) {
	for _, v := range sf.values {
		if sf.fs.Changed(v.spec.Flag) {
			flags.Set(v.spec.Key, v.text)
		}
	}
}
