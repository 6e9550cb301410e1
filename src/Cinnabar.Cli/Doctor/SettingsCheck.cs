namespace Cinnabar.Cli.Doctor;

/// <summary>Cluster settings that differ between nodes (CONFIG GET), and server versions that differ (INFO).</summary>
public static class SettingsCheck
{
    public static IEnumerable<Finding> Run(Survey s)
    {
        var up = s.Up.ToList();
        foreach (var name in Survey.ComparedSettings)
        {
            var groups = up.Where(n => n.Setting(name) != null).GroupBy(n => n.Setting(name)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).ToList();
            if (groups.Count < 2) continue;
            string usual = groups[0].Key;
            var odd = groups.Skip(1).SelectMany(g => g).ToList();
            var f = new Finding(Severity.Warning, "settings-differ",
                $"{name} differs between nodes: {string.Join("; ", groups.Select(g => $"{g.Key} on {string.Join(", ", g.Select(n => n.Address))}"))}");
            f.Node(odd.Select(n => n.Address).ToArray());
            foreach (var n in up) f.Saw(n.Address, "CONFIG GET", $"{name} {n.Setting(name)}");
            f.Remedy($"make it {usual} everywhere, as most nodes have it (CONFIG REWRITE keeps it in the config file, when there is one)",
                odd.Select(n => $"{n.Cli} CONFIG SET {name} {usual}").ToArray());
            yield return f;
        }
        var versions = up.GroupBy(n => n.Info("redis_version") ?? "?").ToList();
        if (versions.Count > 1)
        {
            var f = new Finding(Severity.Warning, "versions-differ",
                $"nodes run different versions: {string.Join("; ", versions.Select(g => $"{g.Key} on {string.Join(", ", g.Select(n => n.Address))}"))}");
            foreach (var n in up) { f.Node(n.Address); f.Saw(n.Address, "INFO", "redis_version:" + n.Info("redis_version")); }
            f.Remedy("finish the rolling upgrade: replicas first, then CLUSTER FAILOVER to them, then the old masters");
            yield return f;
        }
    }
}
