namespace Cinnabar.Cli.Doctor;

public static class Severity
{
    public const string Down = "down", Degraded = "degraded", Warning = "warning";
    public static int Rank(string s) => s switch { Down => 2, Degraded => 1, _ => 0 };
}

/// <summary>A line the doctor read, with the node it came from and what it asked (CLUSTER NODES, INFO, ...).</summary>
public sealed record Evidence(string Node, string Source, string Line);

/// <summary>One way out: what it does, and the commands to paste (redis-cli lines, or a comment when no command can do it).</summary>
public sealed class Remedy
{
    public string Description;
    public List<string> Commands = new();
    public Remedy(string description, params string[] commands)
    {
        Description = description;
        Commands.AddRange(commands);
    }
}

/// <summary>A command --fix runs: the node and its arguments.</summary>
public sealed record FixAction(string Address, string[] Args)
{
    public override string ToString() => Survey.CliFor(Address) + " " + string.Join(' ', Args);
}

/// <summary>A cause, named: its severity, the nodes and slots involved, the evidence, and the remedies.</summary>
public sealed class Finding
{
    public string Severity;
    public string Cause;           // a stable identifier: master-failed-no-replica, open-slot, settings-differ, ...
    public string Summary;         // one sentence for a person
    public List<string> Nodes = new();
    public List<string> Slots = new();   // ranges, "0-5460" or "42"
    public List<Evidence> Evidence = new();
    public List<Remedy> Remedies = new();
    /// <summary>The safe remedy --fix applies (empty when the cause needs a person).</summary>
    public List<FixAction> Fix = new();

    public Finding(string severity, string cause, string summary)
    {
        Severity = severity;
        Cause = cause;
        Summary = summary;
    }

    public Finding Node(params string[] addresses)
    {
        foreach (var a in addresses) if (!Nodes.Contains(a)) Nodes.Add(a);
        return this;
    }

    public Finding Saw(string node, string source, string line)
    {
        var e = new Evidence(node, source, line?.TrimEnd('\r'));
        if (!Evidence.Contains(e)) Evidence.Add(e);
        return this;
    }

    public Finding Remedy(string description, params string[] commands)
    {
        Remedies.Add(new Remedy(description, commands));
        return this;
    }

    /// <summary>Sorted slots → "a-b" ranges.</summary>
    public static List<string> Ranges(IEnumerable<int> slots)
    {
        var list = slots.Distinct().OrderBy(s => s).ToList();
        var result = new List<string>();
        for (int i = 0; i < list.Count;)
        {
            int j = i;
            while (j + 1 < list.Count && list[j + 1] == list[j] + 1) j++;
            result.Add(list[i] == list[j] ? list[i].ToString() : $"{list[i]}-{list[j]}");
            i = j + 1;
        }
        return result;
    }

    public static List<(int from, int to)> RangePairs(IEnumerable<int> slots) =>
        Ranges(slots).Select(r => r.Split('-')).Select(p => (int.Parse(p[0]), int.Parse(p[^1]))).ToList();
}
