using System.Text;
using System.Text.Json;
using Cinnabar.Cli.Resp;

namespace Cinnabar.Cli.Doctor;

/// <summary>
/// cinnabar doctor HOST:PORT [--fix] [--yes] [--json]: asks every node, names each cause of trouble with the lines it
/// read and the commands that remedy it; --fix applies the safe ones (open slots, unassigned slots, a master's dropped
/// claim) after a y/N, or at once with --yes. Exit 0 healthy, 1 degraded, 2 down.
/// </summary>
public static class Doctor
{
    static readonly Func<Survey, IEnumerable<Finding>>[] Checks =
    {
        FailedMasterCheck.Run, UnassignedSlotsCheck.Run, ReachabilityCheck.Run, AgreementCheck.Run, PartitionCheck.Run,
        OpenSlotsCheck.Run, ReplicationCheck.Run, MemoryCheck.Run, TimingCheck.Run, SettingsCheck.Run,
    };

    /// <summary>Causes a view in flux shows for a moment (after a failover, a reshard): confirmed by a second look.</summary>
    static readonly HashSet<string> Transient = new() { "views-disagree", "epochs-disagree", "config-epoch-collision", "minority-partition", "bus-unreachable", "replica-syncing" };

    public const string Usage = "Usage: cinnabar doctor HOST:PORT [--fix] [--yes] [--json]";

    public static int Run(string[] args)
    {
        string seed = null;
        bool fix = false, yes = false, json = false;
        foreach (var a in args)
        {
            switch (a)
            {
                case "--fix": fix = true; break;
                case "--yes": case "-y": yes = true; break;
                case "--json": json = true; break;
                case "-h": case "--help": Console.WriteLine(Usage); return 0;
                default:
                    if (a.StartsWith('-') || seed != null) { Console.Error.WriteLine($"Unknown argument '{a}'.\n{Usage}"); return 2; }
                    seed = a;
                    break;
            }
        }
        if (seed == null) { Console.Error.WriteLine(Usage); return 2; }
        try { RedisConnection.ParseAddress(seed); }
        catch (FormatException e) { Console.Error.WriteLine(e.Message); return 2; }

        var (survey, findings) = Diagnose(seed);
        if (fix && findings.Any(f => f.Fix.Count > 0))
        {
            var actions = findings.SelectMany(f => f.Fix).ToList();
            var log = json ? Console.Error : Console.Out;
            if (!json) Print(survey, findings, Console.Out);
            log.WriteLine($"--fix: {actions.Count} command(s) to apply:");
            foreach (var a in actions) log.WriteLine("  " + a);
            if (!yes)
            {
                log.Write("Apply them? (y/N) ");
                log.Flush();
                string answer = Console.In.ReadLine();
                if (answer == null || !answer.Trim().StartsWith("y", StringComparison.OrdinalIgnoreCase))
                {
                    log.WriteLine("Nothing changed.");
                    if (json) Console.WriteLine(ToJson(survey, findings));
                    return ExitCode(survey, findings);
                }
            }
            foreach (var a in actions)
            {
                string result;
                try
                {
                    var (h, p) = RedisConnection.ParseAddress(a.Address);
                    using var c = new RedisConnection(h, p, 5000);
                    result = c.Call(a.Args).ToString();
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { result = "failed: " + e.Message; }
                log.WriteLine($"  {a} → {result}");
            }
            // Give the bus time to spread the change, bounded, then look again.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            do
            {
                Thread.Sleep(250);
                (survey, findings) = Diagnose(seed, confirm: false);
            } while (DateTime.UtcNow < deadline && (findings.Count > 0 || survey.Up.Any(n => n.ClusterInfo("cluster_state") != "ok")));
            (survey, findings) = Diagnose(seed);
            log.WriteLine("After --fix:");
        }
        else if (fix && !json) Console.WriteLine("--fix: nothing that can be fixed safely without a person.");
        if (json) Console.WriteLine(ToJson(survey, findings));
        else Print(survey, findings, Console.Out);
        return ExitCode(survey, findings);
    }

    /// <summary>Takes a survey and runs every check; when a finding may be a view in flux, looks again after a second.</summary>
    public static (Survey, List<Finding>) Diagnose(string seed, bool confirm = true)
    {
        var survey = Survey.Take(seed);
        var findings = RunChecks(survey);
        if (confirm && findings.Any(f => Transient.Contains(f.Cause)))
        {
            Thread.Sleep(1000);
            var again = Survey.Take(seed);
            var second = RunChecks(again);
            var seen = findings.Where(f => Transient.Contains(f.Cause)).Select(Key).ToHashSet();
            second.RemoveAll(f => Transient.Contains(f.Cause) && !seen.Contains(Key(f)));
            return (again, second);
        }
        return (survey, findings);
    }

    static string Key(Finding f) => f.Cause + "|" + string.Join(",", f.Nodes);

    static List<Finding> RunChecks(Survey s)
    {
        var findings = new List<Finding>();
        if (!s.Up.Any())
        {
            var f = new Finding(Severity.Down, "seed-unreachable", $"no node answers: {s.Seed} — {s.Nodes.FirstOrDefault()?.Problem}");
            f.Node(s.Seed);
            foreach (var n in s.Nodes) f.Saw(n.Address, "connection", n.Problem);
            f.Remedy("start the node, or ask another node of the cluster", $"cinnabar doctor <another-node>:<port>");
            findings.Add(f);
            return findings;
        }
        foreach (var check in Checks) findings.AddRange(check(s));
        var failing = s.Up.Where(n => n.ClusterInfo("cluster_state") == "fail").ToList();
        if (failing.Count > 0 && !findings.Any(f => f.Severity == Severity.Down))
        {
            var f = new Finding(Severity.Down, "cluster-state-fail",
                $"{string.Join(", ", failing.Select(n => n.Address))} report cluster_state:fail (every keyed command gets CLUSTERDOWN there)");
            foreach (var n in failing)
            {
                f.Node(n.Address);
                foreach (var field in new[] { "cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_slots_pfail", "cluster_slots_fail", "cluster_known_nodes", "cluster_size" })
                    f.Saw(n.Address, "CLUSTER INFO", field + ":" + n.ClusterInfo(field));
            }
            f.Remedy("a node that was cut off or just restarted rejoins within cluster-node-timeout; if not, check its links", failing.Select(n => n.Cli + " CLUSTER LINKS").ToArray());
            findings.Add(f);
        }
        return findings.OrderByDescending(f => Severity.Rank(f.Severity)).ToList();
    }

    public static int ExitCode(Survey s, List<Finding> findings)
    {
        if (findings.Any(f => f.Severity == Severity.Down) || s.Up.Any(n => n.ClusterInfo("cluster_state") == "fail")) return 2;
        return findings.Count > 0 ? 1 : 0;
    }

    static string Status(int code) => code switch { 0 => "HEALTHY", 1 => "DEGRADED", _ => "DOWN" };

    public static void Print(Survey s, List<Finding> findings, TextWriter w)
    {
        int masters = s.Known.Values.Count(l => l.IsMaster && s.SlotsOf(l.Id) > 0);
        int served = Enumerable.Range(0, Survey.Slots).Count(x => s.Owner[x] is { } o && s.ById.TryGetValue(o, out var n) && n.Up);
        w.WriteLine($"cinnabar doctor {s.Seed}: {s.Nodes.Count} nodes ({s.Up.Count()} answering), {masters} masters with slots, {served} of 16384 slots on answering masters");
        foreach (var n in s.Nodes)
        {
            string state = n.Up ? $"{(n.Myself.IsMaster ? "master" : "replica")} cluster_state:{n.ClusterInfo("cluster_state")}" : n.Reach.ToString().ToLowerInvariant() + ": " + n.Problem;
            w.WriteLine($"  {n.Address,-21} {(n.Id ?? s.ById.FirstOrDefault(kv => kv.Value == n).Key ?? "?")[..Math.Min(8, (n.Id ?? s.ById.FirstOrDefault(kv => kv.Value == n).Key ?? "?").Length)]}  {state}");
        }
        w.WriteLine();
        if (findings.Count == 0) w.WriteLine("No problem found.");
        int i = 0;
        foreach (var f in findings)
        {
            w.WriteLine($"[{++i}] {f.Severity.ToUpperInvariant()} {f.Cause}: {f.Summary}");
            if (f.Nodes.Count > 0) w.WriteLine("    nodes: " + string.Join(" ", f.Nodes));
            if (f.Slots.Count > 0) w.WriteLine("    slots: " + string.Join(",", f.Slots));
            w.WriteLine("    evidence:");
            foreach (var e in f.Evidence) w.WriteLine($"      {e.Node} {e.Source}: {e.Line}");
            w.WriteLine("    remedy:");
            foreach (var r in f.Remedies)
            {
                w.WriteLine("      " + r.Description + (r.Commands.Count > 0 ? ":" : ""));
                foreach (var c in r.Commands) w.WriteLine("        " + (c.StartsWith('#') ? c : "$ " + c));
            }
            w.WriteLine();
        }
        int code = ExitCode(s, findings);
        w.WriteLine($"status: {Status(code)} (exit {code})");
    }

    public static string ToJson(Survey s, List<Finding> findings)
    {
        int code = ExitCode(s, findings);
        var doc = new Dictionary<string, object>
        {
            ["seed"] = s.Seed,
            ["status"] = Status(code).ToLowerInvariant(),
            ["exit_code"] = code,
            ["nodes"] = s.Nodes.Select(n => new Dictionary<string, object>
            {
                ["address"] = n.Address,
                ["id"] = n.Id ?? s.ById.FirstOrDefault(kv => kv.Value == n).Key,
                ["reach"] = n.Reach.ToString().ToLowerInvariant(),
                ["role"] = n.Up ? (n.Myself.IsMaster ? "master" : "replica") : null,
                ["cluster_state"] = n.ClusterInfo("cluster_state"),
                ["problem"] = n.Problem,
            }).ToList(),
            ["findings"] = findings.Select(f => new Dictionary<string, object>
            {
                ["severity"] = f.Severity,
                ["cause"] = f.Cause,
                ["summary"] = f.Summary,
                ["nodes"] = f.Nodes,
                ["slots"] = f.Slots,
                ["evidence"] = f.Evidence.Select(e => new Dictionary<string, string> { ["node"] = e.Node, ["source"] = e.Source, ["line"] = e.Line }).ToList(),
                ["remedies"] = f.Remedies.Select(r => new Dictionary<string, object> { ["description"] = r.Description, ["commands"] = r.Commands }).ToList(),
                ["fix"] = f.Fix.Select(a => a.ToString()).ToList(),
            }).ToList(),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
