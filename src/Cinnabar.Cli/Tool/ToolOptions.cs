using System.Globalization;

namespace Cinnabar.Cli.Tool;

/// <summary>The --cluster-* options of redis-cli 7.0 (plus --dry-run), and the positional arguments left over.</summary>
public sealed class ToolOptions
{
    public readonly List<string> Positional = new();
    public int Replicas;
    public bool Yes, SearchMultipleOwners, FixWithUnreachableMasters, Replace, UseEmptyMasters, Simulate;
    public bool Slave, OnlyMasters, OnlyReplicas, DryRun;
    public string From, To, MasterId;
    public int Slots, TimeoutMs = 60000, Pipeline = 10;
    public double Threshold = 2.0;
    public readonly Dictionary<string, double> Weights = new();   // id prefix → weight

    /// <summary>Options may appear anywhere; for `call`, everything after the command name is the command's own.</summary>
    public static ToolOptions Parse(string[] args, bool stopAfterCommand = false)
    {
        var o = new ToolOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next()
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"Option '{a}' needs a value");
                return args[++i];
            }
            // `call host:port command args...`: options are accepted only before the command (and the --cluster-only-*).
            if (stopAfterCommand && o.Positional.Count >= 2 && a is not ("--cluster-only-masters" or "--cluster-only-replicas"))
            {
                o.Positional.Add(a);
                continue;
            }
            switch (a)
            {
                case "--cluster-replicas": o.Replicas = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cluster-yes": o.Yes = true; break;
                case "--cluster-search-multiple-owners": o.SearchMultipleOwners = true; break;
                case "--cluster-fix-with-unreachable-masters": o.FixWithUnreachableMasters = true; break;
                case "--cluster-from": o.From = Next(); break;
                case "--cluster-to": o.To = Next(); break;
                case "--cluster-slots": o.Slots = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cluster-timeout": o.TimeoutMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cluster-pipeline": o.Pipeline = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--cluster-replace": o.Replace = true; break;
                case "--cluster-weight":
                    // one or more id=w following the option
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--") && args[i + 1].Contains('='))
                    {
                        var kv = args[++i].Split('=', 2);
                        o.Weights[kv[0]] = double.Parse(kv[1], CultureInfo.InvariantCulture);
                    }
                    break;
                case "--cluster-use-empty-masters": o.UseEmptyMasters = true; break;
                case "--cluster-simulate": o.Simulate = true; break;
                case "--cluster-threshold": o.Threshold = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cluster-slave": case "--cluster-replica": o.Slave = true; break;
                case "--cluster-master-id": o.MasterId = Next(); break;
                case "--cluster-only-masters": o.OnlyMasters = true; break;
                case "--cluster-only-replicas": o.OnlyReplicas = true; break;
                case "--dry-run": o.DryRun = true; break;
                default:
                    if (a.StartsWith("--cluster-") || (a.StartsWith("--") && !stopAfterCommand)) throw new ArgumentException($"Unrecognized option or bad number of args for: '{a}'");
                    o.Positional.Add(a);
                    break;
            }
        }
        return o;
    }
}
