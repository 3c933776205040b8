// vpo web UI: the live parts. Everything works without this script (the pages are
// complete as served); with it, job states and progress update while the page is
// open, through server-sent events from /ui/events. No inline script is allowed by
// the Content-Security-Policy, so this file is all there is.
(function () {
  "use strict";

  var body = document.body;
  var page = body.getAttribute("data-page");
  var liveJobs = body.getAttribute("data-live-jobs") || "";
  var status = document.getElementById("live-status");
  var source = null;
  var reloading = false;
  // Pages that show what a job leaves behind (its errors, the plans it made or
  // applied): they reload once when one of their live jobs finishes. The plans
  // pages stream only while a plan or apply job runs.
  var reloadsOnFinish = { job: true, plans: liveJobs !== "", plan: liveJobs !== "", policy: liveJobs !== "" };

  // Confirm before a destructive form is sent.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // "Select all" on the plans list: the checkbox is hidden without this script.
  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.hidden = false;
    selectAll.addEventListener("change", function () {
      var boxes = document.querySelectorAll('#plans input[name="id"]');
      for (var i = 0; i < boxes.length; i++) {
        boxes[i].checked = selectAll.checked;
      }
    });
  }

  function setStatus(text) {
    if (status && status.textContent !== text) {
      status.textContent = text;
    }
  }

  function text(el, value) {
    if (el && el.textContent !== String(value)) {
      el.textContent = String(value);
    }
  }

  function counts(job) {
    if (!job.progress || (job.progress.found === 0 && job.state === "queued")) {
      return "not started";
    }
    return job.processed + " of " + job.progress.found + " files";
  }

  // updateJob refreshes every element of the page that shows job.id.
  function updateJob(job) {
    var nodes = document.querySelectorAll('[data-job="' + job.id + '"]');
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      var st = n.querySelector('[data-field="state"]');
      if (st) {
        text(st, job.state);
        st.className = "state state-" + job.state;
      }
      var bar = n.querySelector('[data-field="bar"]');
      if (bar) {
        bar.max = job.progress && job.progress.found > 0 ? job.progress.found : 1;
        bar.value = job.processed || 0;
      }
      text(n.querySelector('[data-field="counts"]'), counts(job));
      var fields = ["found", "probed", "unchanged", "failed", "missing", "done", "planned", "conformant", "skipped", "changed"];
      for (var f = 0; f < fields.length; f++) {
        var el = n.querySelector('[data-field="' + fields[f] + '"]');
        if (el && job.progress) {
          text(el, job.progress[fields[f]]);
        }
      }
    }
  }

  // jobRow builds a row of the running/queued table, with DOM calls only (no HTML
  // strings), so that a path is always text.
  function jobRow(job) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-job", String(job.id));
    function cell(child, cls) {
      var td = document.createElement("td");
      if (cls) {
        td.className = cls;
      }
      if (typeof child === "string") {
        td.textContent = child;
      } else {
        for (var i = 0; i < child.length; i++) {
          td.appendChild(child[i]);
        }
      }
      tr.appendChild(td);
      return td;
    }
    var a = document.createElement("a");
    a.href = "/ui/jobs/" + job.id;
    a.textContent = String(job.id);
    cell([a]);
    cell(job.type);
    var st = document.createElement("span");
    st.setAttribute("data-field", "state");
    cell([st]);
    cell(job.path, "path");
    var bar = document.createElement("progress");
    bar.setAttribute("data-field", "bar");
    bar.setAttribute("aria-label", "Progress of job " + job.id);
    var c = document.createElement("span");
    c.setAttribute("data-field", "counts");
    cell([bar, document.createTextNode(" "), c], "progress");
    cell("");
    return tr;
  }

  function updateActive(active) {
    var tbody = document.querySelector('[data-live="active"]');
    if (!tbody) {
      return;
    }
    var want = active.map(function (j) { return String(j.id); }).join(",");
    var have = Array.prototype.map.call(tbody.querySelectorAll("tr[data-job]"), function (tr) {
      return tr.getAttribute("data-job");
    }).join(",");
    if (want !== have) {
      // The set of jobs changed: rebuild the rows, keeping the server's for jobs
      // still listed (they carry the creation time).
      var old = {};
      Array.prototype.forEach.call(tbody.querySelectorAll("tr[data-job]"), function (tr) {
        old[tr.getAttribute("data-job")] = tr;
      });
      while (tbody.firstChild) {
        tbody.removeChild(tbody.firstChild);
      }
      if (active.length === 0) {
        var tr = document.createElement("tr");
        tr.className = "empty";
        var td = document.createElement("td");
        td.colSpan = 6;
        td.textContent = "No job is running or queued.";
        tr.appendChild(td);
        tbody.appendChild(tr);
      }
      active.forEach(function (j) {
        tbody.appendChild(old[String(j.id)] || jobRow(j));
      });
    }
    active.forEach(updateJob);
  }

  function onSummary(ev) {
    var s = JSON.parse(ev.data);
    text(document.querySelector('[data-live="queued"]'), s.queued);
    text(document.querySelector('[data-live="running"]'), s.running);
    updateActive(s.active || []);
    setStatus("Live");
  }

  function onJobs(ev) {
    var list = JSON.parse(ev.data);
    var done = false;
    list.forEach(function (j) {
      updateJob(j);
      if (j.finished) {
        done = true;
      }
    });
    // A job that finished has errors, notes and times the server renders: reload
    // once to show them.
    if (done && reloadsOnFinish[page] && !reloading) {
      reloading = true;
      if (source) {
        source.close();
      }
      window.location.reload();
    }
  }

  function connect() {
    if (!window.EventSource) {
      return;
    }
    var url = "/ui/events" + (liveJobs ? "?jobs=" + encodeURIComponent(liveJobs) : "");
    source = new EventSource(url);
    source.addEventListener("summary", onSummary);
    source.addEventListener("jobs", onJobs);
    source.addEventListener("logout", function () {
      source.close();
      setStatus("Logged out");
      window.location.href = "/ui/login?notice=login-first";
    });
    source.addEventListener("bye", function () {
      setStatus("vpo is restarting; reconnecting…");
    });
    source.onerror = function () {
      if (!reloading) {
        setStatus("Live updates paused; reconnecting…");
      }
    };
  }

  // Only pages that show jobs stream.
  if (page === "dashboard" || page === "jobs" || reloadsOnFinish[page]) {
    connect();
  }
  window.addEventListener("pagehide", function () {
    if (source) {
      source.close();
    }
  });
})();
