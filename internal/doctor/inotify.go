package doctor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MinInotifyWatches is the max_user_watches below which the doctor warns. Watching a
// library takes one watch per directory; counting the directories under the roots
// would mean walking them all, so the doctor warns below a floor that fits a large
// library instead.
const MinInotifyWatches = 65536

// CheckInotify reports the kernel's inotify limits, read from procSys ("" means
// /proc/sys): fs/inotify/max_user_watches, with a warning below MinInotifyWatches,
// and fs/inotify/max_user_instances.
func CheckInotify(procSys string) []Result {
	if procSys == "" {
		procSys = "/proc/sys"
	}
	watches := readSysctl(procSys, "fs.inotify.max_user_watches", func(name string, v int) Result {
		if v < MinInotifyWatches {
			return warn(name, "%d, below %d: watching a large library may run out; raise it with sysctl -w fs.inotify.max_user_watches=524288 (and in /etc/sysctl.d/)", v, MinInotifyWatches)
		}
		return ok(name, "%d", v)
	})
	instances := readSysctl(procSys, "fs.inotify.max_user_instances", func(name string, v int) Result {
		return ok(name, "%d", v)
	})
	return []Result{watches, instances}
}

// readSysctl reads the integer sysctl key (dotted) under procSys and judges it.
func readSysctl(procSys, key string, judge func(name string, v int) Result) Result {
	name := key
	b, err := os.ReadFile(filepath.Join(procSys, strings.ReplaceAll(key, ".", "/")))
	if err != nil {
		return warn(name, "cannot be read: %v", unwrapPath(err))
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return warn(name, "not a number: %q", strings.TrimSpace(string(b)))
	}
	return judge(name, v)
}

func itoa(n int) string { return strconv.Itoa(n) }
